"""Rollups: the writer side (tables, build, refresh, status)."""
