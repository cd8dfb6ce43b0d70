"""The deterministic demo warehouse: scales, row generators and the COPY loader."""
