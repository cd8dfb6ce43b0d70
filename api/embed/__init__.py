"""Embedded dashboards: embed sessions and their tokens, dashboard specs and pages, CORS."""
