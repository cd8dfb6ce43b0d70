"""Event ingestion: POST /events, validated against the event types, grouped into few
durable commits on PostgreSQL (docs/ingestion.md)."""
