"""A root field's GraphQL arguments (strawberry input objects) as semantic-query parts."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from strawberry.types.unset import UNSET

from resolvers.errors import QueryError
from schema.query import And, Condition, DimensionRef, Filter, FilterOp, Or, OrderBy
from schema.registry import Registry

_OPS: dict[str, FilterOp] = {
    "equals": "equals",
    "not_equals": "notEquals",
    "in_": "in",
    "not_in": "notIn",
    "gt": "gt",
    "gte": "gte",
    "lt": "lt",
    "lte": "lte",
    "contains": "contains",
    "starts_with": "startsWith",
    "ends_with": "endsWith",
    "in_date_range": "inDateRange",
    "before_date": "beforeDate",
    "after_date": "afterDate",
}


def _given(obj: Any) -> list[tuple[str, Any]]:
    """The fields a client set on an input object.

    An explicit null is an error, not "no condition": `status: {equals: $s}` with a null
    `$s` must not quietly return every row (a well-known way to leak data through
    GraphQL filters). Rows without a value are asked for with `set: false`.
    """
    found = []
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if value is None:
            name = field.name.rstrip("_")
            raise QueryError(f"{name} is null; omit it, or use set: false to ask for rows without a value")
        if value is not UNSET:
            found.append((field.name, value))
    return found


def _conditions(member: str, filter_input: Any) -> list[Filter]:
    conditions: list[Filter] = []
    for name, value in _given(filter_input):
        if name in ("set", "not_set"):
            present = value if name == "set" else not value
            conditions.append(Condition(member, "set" if present else "notSet"))
        else:
            values = tuple(value) if isinstance(value, list) else (value,)
            conditions.append(Condition(member, _OPS[name], values))
    return conditions


MAX_FILTER_DEPTH = 16  # where objects inside where objects: AND / OR items and joined models


def where_filters(
    registry: Registry, model: str, where: Any, prefix: str = "", depth: int = 0
) -> list[Filter]:
    """`where: {status: {equals: "x"}, course: {subject: {in: [...]}}, OR: [...]}` as filters."""
    if where is None or where is UNSET:
        return []
    if depth > MAX_FILTER_DEPTH:
        raise QueryError(f"where nests more than {MAX_FILTER_DEPTH} levels (AND, OR and joined models)")
    spec = registry.model(model)
    filters: list[Filter] = []
    for name, value in _given(where):
        if name in ("and_", "or_"):
            groups = tuple(
                And(tuple(where_filters(registry, model, item, prefix, depth + 1))) for item in value
            )
            filters.append(And(groups) if name == "and_" else Or(groups))
        elif name in spec.joins:
            filters += where_filters(registry, spec.joins[name].model, value, f"{prefix}{name}.", depth + 1)
        else:
            filters += _conditions(prefix + name, value)
    return filters


def order_items(
    registry: Registry, model: str, order_by: list[Any] | None, selected: tuple[DimensionRef, ...]
) -> tuple[OrderBy, ...]:
    """`orderBy: [{count: DESC}, {course: {subject: ASC}}]`; a time dimension sorts every
    grain of it that is selected."""
    items: list[OrderBy] = []
    for entry in order_by or ():
        keys = _order_keys(registry, model, entry, "")
        if len(keys) != 1:
            raise QueryError(
                "each orderBy item takes exactly one member, e.g. [{count: DESC}, {status: ASC}]"
            )
        member, direction = keys[0]
        descending = direction.value == "desc"
        refs = [ref for ref in selected if ref.member == member] or [DimensionRef(member)]
        items += [OrderBy(member, ref.granularity, descending) for ref in refs]
    return tuple(items)


def _order_keys(registry: Registry, model: str, entry: Any, prefix: str) -> list[tuple[str, enum.Enum]]:
    spec = registry.model(model)
    keys: list[tuple[str, enum.Enum]] = []
    for name, value in _given(entry):
        if name in spec.joins:
            keys += _order_keys(registry, spec.joins[name].model, value, f"{prefix}{name}.")
        else:
            keys.append((prefix + name, value))
    return keys
