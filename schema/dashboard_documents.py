"""A dashboard as front ends use it: each tile's GraphQL document, its own conditions as a
`where` value, and where each dashboard filter goes in that `where`.

A tile's document takes two variables, `$where` (the model's Where input) and `$timezone`
(the dashboard's by default). The page sends `where: {AND: [tile.where, ...filter conditions]}`
(or just `tile.where`); locked filters of an embed session apply on the server whatever is sent.
"""

from __future__ import annotations

import json
from typing import Any

from schema.dashboards import Dashboard, DashboardFilter, Tile, dimension_ref
from schema.naming import camel, pascal
from schema.paths import walk
from schema.registry import Registry
from schema.spec import ModelSpec
from schema.titles import member_title

OPTIONS_LIMIT = 1000  # choices a select filter offers at most
Tree = dict[str, Any]  # response key -> subtree, or None for a leaf

# How a tile condition reads as a GraphQL filter input: (key, how its values are given).
_INPUT: dict[str, tuple[str, str]] = {
    "equals": ("equals", "one"),
    "notEquals": ("notEquals", "one"),
    "in": ("in", "list"),
    "notIn": ("notIn", "list"),
    "gt": ("gt", "one"),
    "gte": ("gte", "one"),
    "lt": ("lt", "one"),
    "lte": ("lte", "one"),
    "contains": ("contains", "list"),
    "startsWith": ("startsWith", "list"),
    "endsWith": ("endsWith", "list"),
    "inDateRange": ("inDateRange", "list"),
    "beforeDate": ("beforeDate", "one"),
    "afterDate": ("afterDate", "one"),
    "set": ("set", "true"),
    "notSet": ("set", "false"),
}


def _path(registry: Registry, model: ModelSpec, member: str) -> list[str]:
    """The GraphQL field names from the root field to the member (joins, then the member)."""
    steps, name = walk(registry, model, member)
    return [camel(join) for join in steps[-1].joins] + [camel(name)]


def _nest(tree: Tree, path: list[str], leaf: Any) -> None:
    for part in path[:-1]:
        tree = tree.setdefault(part, {})
    tree[path[-1]] = leaf


def _selection(registry: Registry, model: ModelSpec, tile: Tile) -> Tree:
    tree: Tree = {}
    for text in tile.query.dimensions:
        ref = dimension_ref(registry, model, text)
        path = _path(registry, model, ref.member)
        steps, name = walk(registry, model, ref.member)
        if steps[-1].model.dimensions[name].type == "time":
            existing = tree
            for part in path:
                existing = existing.get(part) or {}
            _nest(tree, path, {**existing, (ref.granularity or "value"): None})
        else:
            _nest(tree, path, None)
    for measure in tile.query.measures:
        _nest(tree, _path(registry, model, measure), None)
    return tree


def _render_selection(tree: Tree, indent: str) -> str:
    lines = []
    for key, sub in tree.items():
        if sub is None:
            lines.append(f"{indent}{key}")
        else:
            lines.append(f"{indent}{key} {{\n{_render_selection(sub, indent + '  ')}\n{indent}}}")
    return "\n".join(lines)


def _literal(value: Any) -> str:
    """An input value as GraphQL text: objects, lists, enums (Direction) and scalars."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_literal(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    if isinstance(value, _Enum):
        return value.name
    return json.dumps(value)


class _Enum:
    def __init__(self, name: str) -> None:
        self.name = name


def tile_where(registry: Registry, tile: Tile) -> dict[str, Any] | None:
    """The tile's own conditions as a value of its model's Where input (None: none)."""
    model = registry.model(tile.query.model)
    where: Tree = {}
    for item in tile.query.filters:
        key, shape = _INPUT[item.op]
        value: Any = (
            list(item.values) if shape == "list" else item.values[0] if shape == "one" else shape == "true"
        )
        path = _path(registry, model, item.member)
        target: Tree = where
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target.setdefault(path[-1], {})[key] = value
    return where or None


def operation_name(dashboard: Dashboard, tile: Tile) -> str:
    return pascal(dashboard.dashboard) + pascal(tile.name)


def tile_document(registry: Registry, dashboard: Dashboard, tile: Tile) -> str:
    model = registry.model(tile.query.model)
    arguments = ["where: $where"]
    order = []
    for item in tile.query.order:
        ref = dimension_ref(registry, model, item.member)
        entry: Tree = {}
        _nest(entry, _path(registry, model, ref.member), _Enum("DESC" if item.desc else "ASC"))
        order.append(entry)
    if order:
        arguments.append(f"orderBy: {_literal(order)}")
    if tile.query.limit is not None:
        arguments.append(f"limit: {tile.query.limit}")
    if tile.query.segments:
        arguments.append(f"segments: [{', '.join(segment.upper() for segment in tile.query.segments)}]")
    arguments.append("timezone: $timezone")
    variables = f"$where: {pascal(model.model)}Where, $timezone: String! = {json.dumps(dashboard.timezone)}"
    selection = _render_selection(_selection(registry, model, tile), "    ")
    return (
        f"query {operation_name(dashboard, tile)}({variables}) {{\n"
        f"  {camel(model.model)}({', '.join(arguments)}) {{\n{selection}\n  }}\n}}\n"
    )


def _columns(registry: Registry, model: ModelSpec, tile: Tile) -> list[dict[str, Any]]:
    """Each value a row carries: its path in the row, title and kind, in selection order."""
    columns = []
    for text in tile.query.dimensions:
        ref = dimension_ref(registry, model, text)
        path = _path(registry, model, ref.member)
        steps, name = walk(registry, model, ref.member)
        if steps[-1].model.dimensions[name].type == "time":
            path.append(ref.granularity or "value")
        title = member_title(registry, model, ref.member, ref.granularity)
        columns.append({"path": path, "title": title, "kind": "dimension"})
    for measure in tile.query.measures:
        path = _path(registry, model, measure)
        title = member_title(registry, model, measure)
        columns.append({"path": path, "title": title, "kind": "measure"})
    return columns


def _listen(registry: Registry, model: ModelSpec, tile: Tile) -> dict[str, list[str]]:
    return {name: _path(registry, model, member) for name, member in tile.listen.items()}


def _options(
    registry: Registry, dashboard: Dashboard, name: str, spec: DashboardFilter
) -> dict[str, Any] | None:
    if spec.options is None:
        return None
    model = registry.model(spec.options.model)
    tree: Tree = {}
    members = [spec.options.value] + ([spec.options.label] if spec.options.label else [])
    for member in members:
        _nest(tree, _path(registry, model, member), None)
    sort: Tree = {}
    _nest(sort, _path(registry, model, members[-1]), _Enum("ASC"))
    arguments = f"orderBy: [{_literal(sort)}], limit: {OPTIONS_LIMIT}"
    operation = f"{pascal(dashboard.dashboard)}{pascal(name)}Options"
    document = (
        f"query {operation} {{\n  {camel(model.model)}({arguments}) {{\n"
        f"{_render_selection(tree, '    ')}\n  }}\n}}\n"
    )
    return {
        "model": model.model,
        "document": document,
        "value": _path(registry, model, spec.options.value),
        "label": _path(registry, model, spec.options.label) if spec.options.label else None,
    }


def dashboard_view(registry: Registry, dashboard: Dashboard) -> dict[str, Any]:
    """The dashboard as JSON for a page: its filters and tiles, each tile with its document."""
    filters = [
        {
            "name": name,
            "title": spec.title,
            "type": spec.type,
            "multiple": spec.multiple,
            "default": list(spec.default) if spec.default is not None else None,
            "options": _options(registry, dashboard, name, spec),
        }
        for name, spec in dashboard.filters.items()
    ]
    tiles = []
    for tile in dashboard.tiles:
        model = registry.model(tile.query.model)
        tiles.append(
            {
                "name": tile.name,
                "title": tile.title,
                "description": tile.description,
                "chart": tile.chart,
                "width": tile.width,
                "model": model.model,
                "field": camel(model.model),
                "operation": operation_name(dashboard, tile),
                "document": tile_document(registry, dashboard, tile),
                "where": tile_where(registry, tile),
                "listen": _listen(registry, model, tile),
                "columns": _columns(registry, model, tile),
                "query": tile.query.model_dump(mode="json"),
            }
        )
    return {
        "name": dashboard.dashboard,
        "title": dashboard.title,
        "description": dashboard.description,
        "timezone": dashboard.timezone,
        "filters": filters,
        "tiles": tiles,
    }
