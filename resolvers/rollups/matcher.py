"""Whether a planned query (after authorization: its row filters are in `plan.where`) can be
answered exactly from a rollup, and from which.

A rollup serves a query only when every one of these holds; the first that fails is the
reason reported for the miss:

- the query reads no segments or row masks, and its joined models only many-to-one (or
  one-to-one), each joined to the model on stored dimensions: `course.title` is read by
  joining the rollup's `course_id` to the courses (a joined row is the same for every row a
  stored row sums up, so grouping and filtering on it are exact);
- every selected dimension and every filtered one (the client's and the access policy's)
  of the model itself is stored; the time dimension is selected at a granularity made of
  whole buckets, in the bucket's time zone (minute grains: in any zone whose UTC offsets are multiples of
  the grain, over all of its history);
- every time filter cuts at a bucket boundary, with an operator that means the same on the
  bucket's first instant as on the rows' instants (`>=`, `<`, date ranges whose ends are
  whole days or boundaries);
- every measure, including those in HAVING filters (small-group suppression), is rebuilt
  from stored parts (schema/rollups.py);
- the rollup is built for the current definition, and covers the query's time range.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from resolvers.plan import (
    Plan,
    PlannedCondition,
    PlannedDimension,
    PlannedFilter,
    PlannedGroup,
    PlannedMeasure,
)
from resolvers.rollups.layout import Layout
from resolvers.values import TimeValue
from schema.rollups import base_measures, stored_join
from schema.spec import MINUTE_GRAINS


@dataclass(frozen=True, slots=True)
class RollupState:
    """A built rollup as `cohort_rollups.state` records it."""

    key: str  # model.rollup
    version: str
    table: str
    watermark: int
    covered_from: datetime | None  # the first instant the rollup holds every row of, None: all
    first_at: datetime | None  # the earliest bucket stored (None: empty)
    refreshed_at: datetime
    rows: int


@dataclass(frozen=True, slots=True)
class Choice:
    layout: Layout | None  # None: the raw tables
    state: RollupState | None
    misses: tuple[tuple[str, str], ...] = ()  # (rollup, why it could not serve the query)
    # When `layout` decides small-group suppression from bounds: a rollup that counts the
    # learners exactly, for the groups the bounds leave undecided (None: the raw rows).
    checker: tuple[Layout, RollupState] | None = None

    @property
    def reason(self) -> str | None:
        if self.layout is not None:
            return None
        if not self.misses:
            return "the model has no rollups"
        # No reason holds "; ", so that a client can tell them apart.
        return "; ".join(f"{key}: {why}" for key, why in self.misses)


class _Miss(Exception):
    pass


# The granularities made of whole buckets of each zone grain.
_NESTED = {
    "hour": frozenset({"hour", "day", "week", "month", "quarter", "year"}),
    "day": frozenset({"day", "week", "month", "quarter", "year"}),
    "week": frozenset({"week"}),
    "month": frozenset({"month", "quarter", "year"}),
}
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"})


def choose(plan: Plan, layouts: Sequence[Layout], states: Mapping[str, RollupState]) -> Choice:
    """The smallest rollup that can serve `plan`, or the reasons none can."""
    misses: list[tuple[str, str]] = []
    fits: list[tuple[int, Layout, RollupState]] = []
    for candidate in layouts:
        if candidate.model.model != plan.root:
            continue
        try:
            state = _check(plan, candidate, states.get(candidate.key))
        except _Miss as miss:
            misses.append((candidate.key, str(miss)))
            continue
        fits.append((state.rows, candidate, state))
    if not fits:
        return Choice(None, None, tuple(misses))
    _, best, state = min(fits, key=lambda fit: (fit[0], fit[1].key))
    checker = None
    if any(bounded(item, best) for item in plan.having) or valued(plan, best):
        exact = [
            fit
            for fit in fits
            if not any(bounded(i, fit[1]) for i in plan.having) and not valued(plan, fit[1])
        ]
        if exact:
            _, layout, found = min(exact, key=lambda fit: (fit[0], fit[1].key))
            checker = (layout, found)
    return Choice(best, state, tuple(misses), checker)


def _check(plan: Plan, layout: Layout, state: RollupState | None) -> RollupState:
    _joins(plan, layout)
    if plan.segments:
        raise _Miss("segments are not stored in rollups")
    if plan.row_masks:
        raise _Miss("the access policy masks rows of the query, which rollups do not store")
    if state is None:
        raise _Miss("not built yet (run `cohort rollups refresh`)")
    if state.version != layout.version:
        raise _Miss("being rebuilt for its new definition")
    for dimension in plan.dimensions:
        if not dimension.masked:
            _selectable(dimension, layout, plan.timezone, state)
    for item in plan.where:
        _filterable(item, layout, plan.timezone)
    having = [m.name for m in _measures(tuple(f for f in plan.having if not bounded(f, layout)))]
    counts = valued(plan, layout)
    needed = base_measures(layout.model, [m.name for m in plan.measures if m.name not in counts] + having)
    missing = [name for name in needed if name not in layout.stored_measures]
    if missing:
        raise _Miss(f"measures not stored: {', '.join(missing)}")
    if state.covered_from is not None:
        start = _lower_bound(plan.where, layout, plan.timezone)
        if start is None or start < state.covered_from:
            raise _Miss(
                f"the query's time range starts before {state.covered_from:%Y-%m-%d}, the rollup's first day"
            )
    return state


def _joins(plan: Plan, layout: Layout) -> None:
    for path, node in plan.nodes.items():
        if node.join is None:
            continue
        if node.join.relationship == "one_to_many":
            raise _Miss(f"{'.'.join(path)} is joined one-to-many, which would repeat stored rows")
        if len(path) == 1:
            stored = stored_join(layout.model, node.join, layout.spec.dimensions)
            if isinstance(stored, str):
                raise _Miss(stored)
    joined = sorted({".".join(m.path) for m in (*plan.measures, *_measures(plan.having)) if m.path})
    if joined:
        raise _Miss(f"measures of joined models ({', '.join(joined)}) are not stored")


def _selectable(dimension: PlannedDimension, layout: Layout, zone: str, state: RollupState) -> None:
    if dimension.path:
        return  # a joined model's: joined to the stored rows (_joins)
    time = layout.spec.time
    if time is not None and dimension.name == time.dimension:
        if dimension.granularity is None:
            raise _Miss(f"{dimension.name} is selected as instants, the rollup stores {time.grain} buckets")
        if time.grain in MINUTE_GRAINS:
            first = (state.first_at or datetime.now(UTC)).date() - timedelta(days=1)
            last = datetime.now(UTC).date() + timedelta(days=2)
            if not offsets_divide(zone, MINUTE_GRAINS[time.grain], first, last):
                raise _Miss(f"{zone} has UTC offsets that are not whole {time.grain}")
        elif not _same_zone(zone, time.timezone):
            raise _Miss(f"the query's time zone is {zone}, the rollup's {time.grain}s are in {time.timezone}")
        elif dimension.granularity not in _NESTED[time.grain]:
            raise _Miss(f"a {dimension.granularity} is not made of whole {time.grain}s")
        return
    if dimension.name not in layout.spec.dimensions:
        raise _Miss(f"{dimension.name} is not a dimension of the rollup")


def _filterable(item: PlannedFilter, layout: Layout, zone: str) -> None:
    if isinstance(item, PlannedGroup):
        for child in item.items:
            _filterable(child, layout, zone)
        return
    target = item.target
    if isinstance(target, PlannedMeasure) or target.path:
        return  # a HAVING filter (its measure is checked with the selected ones), or a join's
    time = layout.spec.time
    if time is not None and target.name == time.dimension:
        _time_filter(item, layout, zone)
    elif target.name not in layout.spec.dimensions:
        raise _Miss(f"the filter on {target.name} needs a dimension the rollup does not store")


def _time_filter(item: PlannedCondition, layout: Layout, zone: str) -> None:
    """The boundaries the filter compares with, which must be bucket boundaries under an
    operator that keeps whole buckets (compare resolvers/filters.py)."""
    op, values = item.op, [v for v in item.values if isinstance(v, TimeValue)]
    if op in ("set", "notSet"):
        return
    bounds: list[tuple[TimeValue, bool]]  # (value, as a range's end)
    match op:
        case "gte" | "lt" | "beforeDate":
            bounds = [(values[0], False)]
        case "afterDate" if values[0].whole_day:
            bounds = [(values[0], True)]
        case "inDateRange" if values[1].whole_day:
            bounds = [(values[0], False), (values[1], True)]
        case _:
            raise _Miss(f"a time filter ({op}) that does not keep whole buckets")
    for value, end in bounds:
        if not _on_boundary(value, end, layout, zone):
            raise _Miss(f"the time filter cuts inside a {layout.spec.time.grain} bucket")  # type: ignore[union-attr]


def _on_boundary(value: TimeValue, end: bool, layout: Layout, zone: str) -> bool:
    instant = _instant(value, end, zone)
    if instant is None:
        return False
    time = layout.spec.time
    assert time is not None
    if time.grain in MINUTE_GRAINS:
        utc = instant.astimezone(UTC)
        return utc.second == utc.microsecond == 0 and utc.minute % MINUTE_GRAINS[time.grain] == 0
    local = instant.astimezone(ZoneInfo(time.timezone))
    if local.minute or local.second or local.microsecond:
        return False
    return {
        "hour": True,
        "day": local.hour == 0,
        "week": local.hour == 0 and local.weekday() == 0,
        "month": local.hour == 0 and local.day == 1,
    }[time.grain]


def _instant(value: TimeValue, end: bool, zone: str) -> datetime | None:
    """The instant PostgreSQL compares with; None when a local time is ambiguous or does
    not exist in the query's zone (PostgreSQL and Python could read it differently)."""
    moment = value.value + (timedelta(days=1) if end and value.whole_day else timedelta(0))
    if moment.tzinfo is not None:
        return moment
    tz = ZoneInfo(zone)
    earlier, later = moment.replace(tzinfo=tz, fold=0), moment.replace(tzinfo=tz, fold=1)
    return earlier if earlier.utcoffset() == later.utcoffset() else None


def bounded(item: PlannedFilter, layout: Layout) -> bool:
    """Small-group suppression (`learner count >= k`) decided with the rollup's bounds."""
    return (
        isinstance(item, PlannedCondition)
        and isinstance(item.target, PlannedMeasure)
        and item.target.path == ()
        and item.target.name in layout.bounded
        and item.target.name not in layout.stored_measures
        and item.op == "gte"
        and len(item.values) == 1
        and isinstance(item.values[0], int | float)
        and not isinstance(item.values[0], bool)
    )


def valued(plan: Plan, layout: Layout) -> frozenset[str]:
    """Selected distinct counts that `layout` keeps as bounds only, which it can serve when
    each of the query's groups is one row of it: the bounds of a row never merged meet, and
    the groups where they do not are counted exactly. Elsewhere they are not served."""
    names = frozenset(
        m.name for m in plan.measures if m.name in layout.bounded and m.name not in layout.stored_measures
    )
    return names if names and _one_row_per_group(plan, layout) else frozenset()


def _one_row_per_group(plan: Plan, layout: Layout) -> bool:
    """Every dimension of the rollup grouped by the query or fixed by an `equals` filter (the
    access policy's included), and its time grouped at the rollup's own grain."""
    grouped = {d.name for d in plan.dimensions if not d.masked and d.granularity is None and not d.path}
    fixed = {
        item.target.name
        for item in _conjuncts(plan.where)
        if isinstance(item.target, PlannedDimension) and not item.target.path and item.op == "equals"
    }
    if any(name not in grouped | fixed for name in layout.spec.dimensions):
        return False
    time = layout.spec.time
    return time is None or any(
        d.name == time.dimension and not d.path and d.granularity == time.grain for d in plan.dimensions
    )


def _conjuncts(filters: tuple[PlannedFilter, ...]) -> list[PlannedCondition]:
    """The conditions that all must hold: top-level ones, and those of AND groups in them
    (the access policy's row filters come as one)."""
    found: list[PlannedCondition] = []
    for item in filters:
        if isinstance(item, PlannedCondition):
            found.append(item)
        elif item.kind == "and":
            found += _conjuncts(item.items)
    return found


def _measures(filters: tuple[PlannedFilter, ...]) -> list[PlannedMeasure]:
    found: list[PlannedMeasure] = []
    for item in filters:
        if isinstance(item, PlannedGroup):
            found += _measures(item.items)
        elif isinstance(item.target, PlannedMeasure):
            found.append(item.target)
    return found


def _lower_bound(where: tuple[PlannedFilter, ...], layout: Layout, zone: str) -> datetime | None:
    """The latest start among the ANDed time filters (what the query cannot read before)."""
    time = layout.spec.time
    if time is None:
        return None
    starts: list[datetime] = []
    for item in _conjuncts(where):
        target = item.target
        if not isinstance(target, PlannedDimension) or target.path or target.name != time.dimension:
            continue
        values = [v for v in item.values if isinstance(v, TimeValue)]
        if item.op in ("gte", "inDateRange"):
            starts.append(values[0].instant(ZoneInfo(zone)))
        elif item.op == "afterDate":
            starts.append(values[0].instant(ZoneInfo(zone), end=True))
    return max(starts) if starts else None


def _same_zone(a: str, b: str) -> bool:
    return a == b or (a in _UTC_NAMES and b in _UTC_NAMES)


@functools.lru_cache(maxsize=1024)
def offsets_divide(zone: str, minutes: int, first: date, last: date) -> bool:
    """Whether every UTC offset `zone` has from `first` to `last` (the rollup's rows) is a
    whole number of `minutes`: then its local hours and days start on the UTC grid.
    Offsets are sampled every 12 hours: no period of standard or summer time is shorter."""
    tz = ZoneInfo(zone)
    step = 60 * minutes
    moment = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(last, datetime.min.time(), tzinfo=UTC)
    while moment <= end:
        offset = tz.utcoffset(moment)
        if offset is not None and int(offset.total_seconds()) % step:
            return False
        moment += timedelta(hours=12)
    return True
