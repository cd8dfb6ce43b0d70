"""From a semantic query to rows: planning, SQL compilation and execution."""
