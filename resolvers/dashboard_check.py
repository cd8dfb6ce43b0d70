"""Every dashboard tile planned as it would run: values, limits and timezones included."""

from __future__ import annotations

from resolvers.errors import QueryError
from resolvers.planner import plan
from schema.dashboards import semantic_query
from schema.issues import Issue
from schema.query import EffectiveQuery
from schema.registry import Registry


def check_tiles(registry: Registry) -> list[Issue]:
    issues = []
    for name, dashboard in registry.dashboards.items():
        for tile in dashboard.tiles:
            try:
                plan(registry, EffectiveQuery(semantic_query(registry, tile, dashboard.timezone)))
            except QueryError as error:
                file = registry.dashboard_files.get(name, name)
                issues.append(Issue(file, f"{name}.tiles.{tile.name}", str(error)))
    return issues
