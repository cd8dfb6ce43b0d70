"""The fixed GraphQL types every generated schema shares: filter inputs, directions,
the local date-time scalar and the time-dimension objects."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition
from strawberry.types.unset import UNSET

from schema.naming import pascal
from schema.spec import GRANULARITIES, Granularity


def _serialize_time(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


LocalDateTime = NewType("LocalDateTime", str)
LOCAL_DATE_TIME_SPEC = "https://the-guild.dev/graphql/scalars/docs/scalars/local-date-time"
SCALARS: dict[object, ScalarDefinition] = {
    LocalDateTime: strawberry.scalar(
        name="LocalDateTime",
        description=(
            "ISO 8601 date-time without an offset (YYYY-MM-DDTHH:mm:ss[.ffffff]): wall-clock time in "
            "the query's timezone. A string: map it to `string` in code generators."
        ),
        specified_by_url=LOCAL_DATE_TIME_SPEC,
        serialize=_serialize_time,
        parse_value=str,
    )
}


@strawberry.enum(description="Sort direction. NULLs sort last either way.")
class Direction(enum.Enum):
    ASC = "asc"
    DESC = "desc"


_SET = "true: the member has a value (IS NOT NULL); false: it has none."
_NOT_SET = "true: the member has no value (IS NULL); false: it has one."


@strawberry.input(description="Conditions on a text member; all given conditions must hold.")
class StringFilter:
    equals: str | None = UNSET
    not_equals: str | None = strawberry.field(default=UNSET, description="Also keeps rows with no value.")
    in_: list[str] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[str] | None = strawberry.field(default=UNSET, description="Also keeps rows with no value.")
    contains: list[str] | None = strawberry.field(
        default=UNSET, description="Case-insensitive; any of the values. % and _ match themselves."
    )
    starts_with: list[str] | None = strawberry.field(
        default=UNSET, description="Case-insensitive; any of the values."
    )
    ends_with: list[str] | None = strawberry.field(
        default=UNSET, description="Case-insensitive; any of the values."
    )
    set: bool | None = strawberry.field(default=UNSET, description=_SET)
    not_set: bool | None = strawberry.field(default=UNSET, description=_NOT_SET)


@strawberry.input(description="Conditions on an integer member; all given conditions must hold.")
class IntFilter:
    equals: int | None = UNSET
    not_equals: int | None = UNSET
    in_: list[int] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[int] | None = UNSET
    gt: int | None = UNSET
    gte: int | None = UNSET
    lt: int | None = UNSET
    lte: int | None = UNSET
    set: bool | None = strawberry.field(default=UNSET, description=_SET)
    not_set: bool | None = strawberry.field(default=UNSET, description=_NOT_SET)


@strawberry.input(description="Conditions on a number member; all given conditions must hold.")
class FloatFilter:
    equals: float | None = UNSET
    not_equals: float | None = UNSET
    in_: list[float] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[float] | None = UNSET
    gt: float | None = UNSET
    gte: float | None = UNSET
    lt: float | None = UNSET
    lte: float | None = UNSET
    set: bool | None = strawberry.field(default=UNSET, description=_SET)
    not_set: bool | None = strawberry.field(default=UNSET, description=_NOT_SET)


@strawberry.input(description="Conditions on a true/false member.")
class BooleanFilter:
    equals: bool | None = UNSET
    not_equals: bool | None = UNSET
    set: bool | None = strawberry.field(default=UNSET, description=_SET)
    not_set: bool | None = strawberry.field(default=UNSET, description=_NOT_SET)


@strawberry.input(
    description=(
        "Conditions on a time member. Values are dates (YYYY-MM-DD) or ISO 8601 date-times; "
        "values without an offset are read in the query's timezone."
    )
)
class TimeFilter:
    equals: str | None = UNSET
    not_equals: str | None = UNSET
    in_: list[str] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[str] | None = UNSET
    gt: str | None = UNSET
    gte: str | None = UNSET
    lt: str | None = UNSET
    lte: str | None = UNSET
    in_date_range: list[str] | None = strawberry.field(
        default=UNSET, description="[from, to], both included; a date-only `to` covers its whole day."
    )
    before_date: str | None = strawberry.field(default=UNSET, description="Before the start of this date.")
    after_date: str | None = strawberry.field(default=UNSET, description="After the end of this date.")
    set: bool | None = strawberry.field(default=UNSET, description=_SET)
    not_set: bool | None = strawberry.field(default=UNSET, description=_NOT_SET)


FILTER_FOR_TYPE: dict[str, type] = {
    "string": StringFilter,
    "integer": IntFilter,
    "float": FloatFilter,
    "boolean": BooleanFilter,
    "time": TimeFilter,
}

_TIME_TYPES: dict[tuple[Granularity, ...], type] = {}


def time_type(granularities: tuple[Granularity, ...] | None) -> type:
    """The object type of a time dimension: one field per allowed grain plus `value`.
    The object is always there (`enrolledAt: Time!`); its values are NULL where the row has none."""
    grains = tuple(g for g in GRANULARITIES if granularities is None or g in granularities)
    if grains not in _TIME_TYPES:
        name = "Time" if grains == GRANULARITIES else "Time" + "".join(pascal(g) for g in grains)
        namespace: dict[str, Any] = {
            "__annotations__": {grain: LocalDateTime | None for grain in ("value", *grains)},
            "value": strawberry.field(default=None, description="The raw value, in the query's timezone."),
        }
        for grain in grains:
            namespace[grain] = strawberry.field(default=None, description=f"Truncated to the {grain}.")
        cls = type(name, (), namespace)
        _TIME_TYPES[grains] = strawberry.type(cls, description=f"A point in time, by {', '.join(grains)}.")
    return _TIME_TYPES[grains]
