"""Filter conditions as SQL, every client value a bound parameter.

A list of values (`in`, `notIn`, `contains`, `startsWith`, `endsWith`) is one array
parameter (`= ANY ($1::VARCHAR[])`), not one parameter per value: building and compiling a
bind parameter costs tens of microseconds on the event loop (1,000 `contains` values took
0.4 s, 10,000 naive times 3 s), and PostgreSQL takes at most 32,767 parameters a statement.
Naive times are read in the query's time zone by PostgreSQL:
`IN (SELECT timezone($tz, unnest($1::TIMESTAMP[])))`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
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

    def times(self, expr: ColumnElement[Any], values: tuple[Checked, ...]) -> ColumnElement[bool]:
        """`expr` is one of these times: aware ones as one array, naive ones as another."""
        moments = [v.value for v in values if isinstance(v, TimeValue)]
        aware = [moment for moment in moments if moment.tzinfo is not None]
        naive = [moment for moment in moments if moment.tzinfo is None]
        parts = []
        if aware:
            parts.append(expr == sa.any_(sa.literal(aware, ARRAY(sa.DateTime(timezone=True)))))
        if naive:
            local = sa.func.unnest(sa.literal(naive, ARRAY(sa.DateTime())))
            parts.append(expr.in_(sa.select(sa.func.timezone(self.timezone, local))))
        return sa.or_(*parts)


_DAY = timedelta(days=1)


def _array(values: tuple[Checked, ...] | list[str]) -> ColumnElement[Any]:
    """The values as one array parameter of their common type (ints among floats: floats)."""
    kinds = {type(value) for value in values}
    element = _TYPES[float] if kinds == {int, float} else _TYPES[kinds.pop()]
    return sa.literal(list(values), ARRAY(element))


def _like(values: tuple[Checked, ...], prefix: str, suffix: str) -> ColumnElement[Any]:
    """ILIKE patterns, `%`, `_` and the escape character (PostgreSQL's default, a backslash)
    escaped so that they match themselves."""
    patterns = [
        prefix + str(v).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + suffix for v in values
    ]
    return sa.any_(_array(patterns))


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


def _text_condition(expr: ColumnElement[Any], cond: PlannedCondition) -> ColumnElement[bool] | None:
    """Equality on a string dimension, with parameters PostgreSQL types from the column: a
    text dimension may be stored as uuid, citext or an enum, which a `$1::VARCHAR` would not
    compare with. Patterns compare the column's text."""
    op, values = cond.op, cond.values
    untyped = sa.types.NullType()
    column = sa.type_coerce(expr, untyped)  # so that the parameter is not given the column's type
    match op:
        case "equals":
            return column == sa.literal(values[0], untyped)
        case "notEquals":
            return sa.or_(column != sa.literal(values[0], untyped), expr.is_(None))
        case "in":
            return column == sa.any_(sa.literal(list(values), untyped))
        case "notIn":
            return sa.or_(column != sa.all_(sa.literal(list(values), untyped)), expr.is_(None))
        case "contains" | "startsWith" | "endsWith":
            text = sa.cast(expr, sa.Text())
            prefix, suffix = {"contains": ("%", "%"), "startsWith": ("", "%"), "endsWith": ("%", "")}[op]
            return text.ilike(_like(values, prefix, suffix))
    return None


def _condition(expr: ColumnElement[Any], cond: PlannedCondition, bind: _Binder) -> ColumnElement[bool]:
    op, values = cond.op, cond.values
    if isinstance(cond.target, PlannedDimension) and cond.target.spec.type == "string":
        text = _text_condition(expr, cond)
        if text is not None:
            return text
    match op:
        case "equals":
            return expr == bind(values[0])
        case "notEquals":  # like Cube: rows where the member is NULL also differ
            return sa.or_(expr != bind(values[0]), expr.is_(None))
        case "in" if isinstance(values[0], TimeValue):
            return bind.times(expr, values)
        case "notIn" if isinstance(values[0], TimeValue):
            return sa.or_(sa.not_(bind.times(expr, values)), expr.is_(None))
        case "in":
            return expr == sa.any_(_array(values))
        case "notIn":
            return sa.or_(expr != sa.all_(_array(values)), expr.is_(None))
        case "gt":
            return expr > bind(values[0])
        case "gte":
            return expr >= bind(values[0])
        case "lt":
            return expr < bind(values[0])
        case "lte":
            return expr <= bind(values[0])
        case "contains":
            return expr.ilike(_like(values, "%", "%"))
        case "startsWith":
            return expr.ilike(_like(values, "", "%"))
        case "endsWith":
            return expr.ilike(_like(values, "%", ""))
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
