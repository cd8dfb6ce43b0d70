"""Filter conditions as SQL, every client value a bound parameter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from resolvers.plan import PlannedCondition, PlannedDimension, PlannedFilter, PlannedGroup, PlannedMeasure
from resolvers.values import Checked, TimeValue

ValueOf = Callable[[PlannedDimension | PlannedMeasure], ColumnElement[Any]]

_TYPES: dict[type, sa.types.TypeEngine[Any]] = {
    bool: sa.Boolean(),
    int: sa.BigInteger(),
    float: sa.Float(),
    str: sa.String(),
}


class _Binder:
    def __init__(self, timezone: ColumnElement[str]) -> None:
        self.timezone = timezone

    def __call__(self, value: Checked, shift: timedelta = timedelta(0)) -> ColumnElement[Any]:
        if isinstance(value, TimeValue):
            moment = value.value + shift
            if moment.tzinfo is not None:
                return sa.literal(moment, sa.DateTime(timezone=True))
            # A naive value is a wall-clock time in the query's timezone.
            return sa.func.timezone(self.timezone, sa.literal(moment, sa.DateTime()))
        return sa.literal(value, _TYPES[type(value)])


_DAY = timedelta(days=1)


def _time_range(expr: ColumnElement[Any], cond: PlannedCondition, bind: _Binder) -> ColumnElement[bool]:
    values = [v for v in cond.values if isinstance(v, TimeValue)]
    if cond.op == "beforeDate":
        return expr < bind(values[0])
    if cond.op == "afterDate":
        first = values[0]
        return expr >= bind(first, _DAY) if first.whole_day else expr > bind(first)
    start, end = values  # inDateRange: both ends included; a date-only end covers its day
    upper = expr < bind(end, _DAY) if end.whole_day else expr <= bind(end)
    return sa.and_(expr >= bind(start), upper)


def _condition(expr: ColumnElement[Any], cond: PlannedCondition, bind: _Binder) -> ColumnElement[bool]:
    op, values = cond.op, cond.values
    match op:
        case "equals":
            return expr == bind(values[0])
        case "notEquals":  # like Cube: rows where the member is NULL also differ
            return sa.or_(expr != bind(values[0]), expr.is_(None))
        case "in":
            return expr.in_([bind(v) for v in values])
        case "notIn":
            return sa.or_(expr.not_in([bind(v) for v in values]), expr.is_(None))
        case "gt":
            return expr > bind(values[0])
        case "gte":
            return expr >= bind(values[0])
        case "lt":
            return expr < bind(values[0])
        case "lte":
            return expr <= bind(values[0])
        case "contains":
            return sa.or_(*(expr.icontains(v, autoescape=True) for v in values))
        case "startsWith":
            return sa.or_(*(expr.istartswith(v, autoescape=True) for v in values))
        case "endsWith":
            return sa.or_(*(expr.iendswith(v, autoescape=True) for v in values))
        case "set":
            return expr.is_not(None)
        case "notSet":
            return expr.is_(None)
        case "inDateRange" | "beforeDate" | "afterDate":
            return _time_range(expr, cond, bind)


def filter_sql(item: PlannedFilter, value_of: ValueOf, timezone: ColumnElement[str]) -> ColumnElement[bool]:
    bind = _Binder(timezone)

    def build(node: PlannedFilter) -> ColumnElement[bool]:
        if isinstance(node, PlannedGroup):
            parts = [build(child) for child in node.items]
            return sa.and_(*parts) if node.kind == "and" else sa.or_(*parts)
        return _condition(value_of(node.target), node, bind)

    return build(item)
