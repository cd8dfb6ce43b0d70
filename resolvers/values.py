"""Client filter values: checked against the operator and the member's type.

Everything a client sends ends up as a bound parameter; this module makes sure the
parameter has the type PostgreSQL expects, so bad input is a clear QueryError rather
than a database error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from resolvers.errors import QueryError
from schema.query import NO_VALUES, ONE_VALUE, OPERATORS, TWO_VALUES, FilterOp, FilterValue, MemberType

MAX_FILTER_VALUES = 1_000


@dataclass(frozen=True, slots=True)
class TimeValue:
    """A point in time from a client. Naive values are read in the query's timezone;
    a date-only value (`whole_day`) covers that whole local day where that matters."""

    value: datetime
    whole_day: bool

    def instant(self, zone: tzinfo, end: bool = False) -> datetime:
        """The instant this value stands for: naive readings are local to `zone`; the end
        of a range given as a date is the start of the next day."""
        moment = self.value + (timedelta(days=1) if end and self.whole_day else timedelta(0))
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


Checked = str | int | float | bool | TimeValue


def _count_error(member: str, op: str, expected: str, got: int) -> QueryError:
    return QueryError(f"filter on {member!r}: {op} takes {expected}, got {got}")


def _check_count(member: str, op: str, count: int) -> None:
    if op in NO_VALUES and count:
        raise _count_error(member, op, "no values", count)
    if op in ONE_VALUE and count != 1:
        raise _count_error(member, op, "exactly one value", count)
    if op in TWO_VALUES and count != 2:
        raise _count_error(member, op, "two values (from, to)", count)
    if op not in NO_VALUES | ONE_VALUE | TWO_VALUES and not 1 <= count <= MAX_FILTER_VALUES:
        raise _count_error(member, op, f"1 to {MAX_FILTER_VALUES} values", count)


def _string(member: str, value: FilterValue) -> str:
    if not isinstance(value, str):
        raise QueryError(f"filter on {member!r} expects text, got {type(value).__name__}")
    if "\x00" in value:
        raise QueryError(f"filter on {member!r}: text cannot contain the NUL character")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate such as "\ud800": not UTF-8
            raise QueryError(f"filter on {member!r}: text must be valid Unicode") from None
    return value


def _number(member: str, value: FilterValue) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise QueryError(f"filter on {member!r} expects a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise QueryError(f"filter on {member!r} expects a finite number")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:  # bound as a bigint
        raise QueryError(f"filter on {member!r}: {value} is out of range for a 64-bit integer")
    return value


def _boolean(member: str, value: FilterValue) -> bool:
    if not isinstance(value, bool):
        raise QueryError(f"filter on {member!r} expects true or false, got {type(value).__name__}")
    return value


# A day inside either end of Python's calendar: a value here can be moved by a day (the end
# of a date-only value) and by any UTC offset (up to 24 hours) without overflowing.
EARLIEST, LATEST = date(1, 1, 2), date(9999, 12, 29)


def _shown(value: FilterValue) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _in_range(member: str, value: FilterValue, checked: TimeValue) -> TimeValue:
    if not EARLIEST <= checked.value.date() <= LATEST:
        raise QueryError(
            f"filter on {member!r}: {_shown(value)} is out of range; dates run from {EARLIEST} to {LATEST}"
        )
    return checked


def parse_time(member: str, value: FilterValue) -> TimeValue:
    if isinstance(value, datetime):
        return _in_range(member, value, TimeValue(value, whole_day=False))
    if isinstance(value, date):
        return _in_range(member, value, TimeValue(datetime.combine(value, time()), whole_day=True))
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                checked = TimeValue(datetime.combine(date.fromisoformat(text), time()), whole_day=True)
            else:
                checked = TimeValue(datetime.fromisoformat(text.replace("Z", "+00:00")), whole_day=False)
        except ValueError:
            pass
        else:
            return _in_range(member, value, checked)
    raise QueryError(
        f"filter on {member!r} expects a date (YYYY-MM-DD) or an ISO 8601 date-time, got {_shown(value)}"
    )


def _empty_range(member: str, start: TimeValue, end: TimeValue, zone: tzinfo) -> bool:
    """Instants, not wall-clock readings: the two ends may carry different offsets. Both
    ends are included; a date-only end covers its whole day."""
    try:
        first, last = start.instant(zone), end.instant(zone, end=True)
    except OverflowError:
        raise QueryError(f"filter on {member!r}: a date is out of range") from None
    return first >= last if end.whole_day else first > last


def check_values(
    member: str, member_type: MemberType, op: FilterOp, values: tuple[FilterValue, ...], zone: tzinfo
) -> tuple[Checked, ...]:
    """`zone` is the query's timezone, in which naive date-times are read."""
    if op not in OPERATORS[member_type]:
        allowed = ", ".join(sorted(OPERATORS[member_type]))
        raise QueryError(f"filter on {member!r}: {op} is not valid for a {member_type}; use {allowed}")
    _check_count(member, op, len(values))
    if member_type == "string":
        return tuple(_string(member, value) for value in values)
    if member_type in ("number", "measure"):
        return tuple(_number(member, value) for value in values)
    if member_type == "boolean":
        return tuple(_boolean(member, value) for value in values)
    checked = tuple(parse_time(member, value) for value in values)
    if op == "inDateRange" and _empty_range(member, checked[0], checked[1], zone):
        raise QueryError(f"filter on {member!r}: inDateRange starts after it ends")
    return checked
