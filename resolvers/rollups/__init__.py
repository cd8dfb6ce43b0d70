"""Rollups: which one serves a query, and the SQL that reads it."""
