"""Random queries over progress_events, each drawn near one of the test rollups
(tests/resolvers/rollups/warehouse.py): its dimensions, measures, granularities and zone,
time filters on its bucket boundaries, and often one thing past what it stores (a
dimension, a measure, a zone, a filter that cuts inside a bucket, an operator that does not
keep whole buckets), so that the matcher is asked both ways. Members of joined models come
in through the stored keys (`course.title` through `course_id`, `course.partner.name` two
joins away), or through keys not stored (`module.title`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from schema.query import Condition, DimensionRef, Filter, FilterOp, FilterValue, Or, OrderBy, SemanticQuery
from schema.spec import GRANULARITIES, Granularity
from tests.resolvers.rollups.warehouse import NOW, RETENTION_DAYS, ROLLUPS

ZONES = ("UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/New_York")
PUBLIC = frozenset({"university", "course_id", "event_type", "learner_id"})
ALL_MEASURES = (
    *("count", "active_learners", "modules_started", "modules_completed", "learners_completing"),
    *("minutes_total", "avg_minutes", "learning_hours", "min_minutes", "max_minutes"),
    *("avg_completed_minutes", "max_completed_minutes", "completion_share"),
)
UNSTORED_DIMENSIONS = ("module_id", "minutes_spent", "learner_id", "module.title")
# Joined dimensions, by the stored key they are joined on.
JOINED = {
    "course_id": ("course.title", "course.subject", "course.level", "course.partner.name"),
    "learner_id": ("learner.country",),
}
LEVELS = ("beginner", "intermediate", "advanced")
FIRST, LAST = date(2024, 1, 1), date(2026, 1, 1)
# A day after the retention rollup's first served one (the last refresh, at LATER, keeps the
# buckets from RETENTION_DAYS before it, and serves from the day after).
KEPT_FROM = (NOW - timedelta(days=RETENTION_DAYS - 2)).date()
EVENT_OPS: tuple[FilterOp, ...] = ("equals", "in", "notEquals")
TEXT_OPS: tuple[FilterOp, ...] = ("equals", "notEquals")
# Operators on a window's start and end that keep whole buckets (with a date for afterDate),
# and some that cut them.
WHOLE_STARTS: tuple[FilterOp, ...] = ("gte", "gte", "afterDate")
CUT_STARTS: tuple[FilterOp, ...] = ("gt", "afterDate", "equals")
WHOLE_ENDS: tuple[FilterOp, ...] = ("lt", "beforeDate")
CUT_ENDS: tuple[FilterOp, ...] = ("lte", "equals")
OFFSETS = tuple(timezone(timedelta(minutes=m)) for m in (0, 330, 345, -300))


@dataclass(frozen=True, slots=True)
class Shape:
    """What one rollup serves, in the terms of a query."""

    rollup: str
    dimensions: tuple[str, ...]
    measures: tuple[str, ...]
    grain: str
    zones: tuple[str, ...]  # the zones its time buckets serve
    learners: bool  # it keeps the learner (small-group suppression can be served)
    retained: bool

    @property
    def granularities(self) -> tuple[Granularity, ...]:
        return {
            "day": ("day", "week", "month", "quarter", "year"),
            "week": ("week",),
            "month": ("month", "quarter", "year"),
            "30 minutes": GRANULARITIES,
        }[self.grain]  # type: ignore[return-value]


def shapes() -> list[Shape]:
    found = []
    for name, rollup in ROLLUPS.items():
        time = rollup["time"]
        zone = time.get("timezone", "UTC")
        found.append(
            Shape(
                name,
                tuple(d for d in rollup["dimensions"] if d in PUBLIC),
                tuple(rollup["measures"]),
                time["grain"],
                ("UTC", "Asia/Kolkata", "America/New_York") if time["grain"] == "30 minutes" else (zone,),
                "learner_id" in rollup["dimensions"],
                "retention_days" in rollup,
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class Who:
    """Who asks: nobody in particular (mandatory filters drawn by hand in the authorizer's
    shapes), or a role of the default policy (then the real authorizer decides)."""

    role: str | None  # university_admin, enterprise_admin, or None
    tenant: str | None
    mandatory: tuple[Filter, ...] = ()

    def __str__(self) -> str:
        if self.role is not None:
            return f"{self.role}@{self.tenant}"
        return f"mandatory {self.mandatory}"


@dataclass(frozen=True, slots=True)
class Draw:
    shape: Shape
    query: SemanticQuery
    who: Who


class Drawer:
    def __init__(self, rng: random.Random, partners: list[str], enterprises: list[str]) -> None:
        self.rng = rng
        self.partners = partners
        self.enterprises = enterprises
        self.shapes = shapes()

    def draw(self) -> Draw:
        rng = self.rng
        shape = rng.choice(self.shapes)
        zone = rng.choice(shape.zones) if rng.random() < 0.8 else rng.choice(ZONES)
        dimensions = self._dimensions(shape)
        measures = rng.sample(shape.measures, rng.randint(1, min(3, len(shape.measures))))
        if rng.random() < 0.1:
            measures.append(rng.choice([m for m in ALL_MEASURES if m not in measures]))
        filters = self._filters(shape, zone)
        order, limit, offset = self._page(dimensions, measures)
        query = SemanticQuery(
            "progress_events",
            measures=tuple(measures),
            dimensions=tuple(dimensions),
            filters=tuple(filters),
            order=order,
            limit=limit,
            offset=offset,
            timezone=zone,
        )
        return Draw(shape, query, self._who(shape))

    # --- members --------------------------------------------------------------------

    def _dimensions(self, shape: Shape) -> list[DimensionRef]:
        rng = self.rng
        found = [
            DimensionRef(name)
            for name in rng.sample(shape.dimensions, rng.randint(0, min(2, len(shape.dimensions))))
        ]
        if rng.random() < 0.1:
            extra = rng.choice(UNSTORED_DIMENSIONS)
            if extra not in shape.dimensions:
                found.append(DimensionRef(extra))
        joinable = [name for key in shape.dimensions for name in JOINED.get(key, ())]
        if joinable and rng.random() < 0.25:
            found.append(DimensionRef(rng.choice(joinable)))
        if rng.random() < 0.75:
            granularity: Granularity | None
            if rng.random() < 0.85:
                granularity = rng.choice(shape.granularities)
            else:
                granularity = rng.choice((*GRANULARITIES, None))
            found.insert(rng.randint(0, len(found)), DimensionRef("occurred_at", granularity))
        return found

    def _page(
        self, dimensions: list[DimensionRef], measures: list[str]
    ) -> tuple[tuple[OrderBy, ...], int | None, int]:
        """An order (the planner adds every dimension after it, so it is total), a limit and an
        offset; fine time grains always have a limit, to keep the test fast."""
        rng = self.rng
        order: tuple[OrderBy, ...] = ()
        if rng.random() < 0.5:
            if dimensions and rng.random() < 0.5:
                ref = rng.choice(dimensions)
                order = (OrderBy(ref.member, ref.granularity, rng.random() < 0.5),)
            else:
                order = (OrderBy(rng.choice(measures), descending=rng.random() < 0.7),)
        fine = any(d.member == "occurred_at" and d.granularity in (None, "hour") for d in dimensions)
        limit = rng.choice((1, 3, 10, 50, 200)) if fine or rng.random() < 0.5 else None
        offset = rng.randint(1, 5) if limit is not None and rng.random() < 0.2 else 0
        return order, limit, offset

    # --- filters --------------------------------------------------------------------

    def _filters(self, shape: Shape, zone: str) -> list[Filter]:
        rng = self.rng
        found = [self._member_filter(shape) for _ in range(rng.choice((0, 0, 0, 1, 1, 2)))]
        form = rng.choice(("none", "range", "range", "both", "start", "end"))
        if shape.retained and form in ("none", "end") and rng.random() < 0.85:
            form = rng.choice(("range", "start"))  # where the retention rollup can serve it
        found += self._time_filters(shape, zone, form)
        if found and rng.random() < 0.1:
            # Either of two conditions: a group keeps whole buckets when each of its parts does.
            other = self._time_filters(shape, zone, rng.choice(("start", "end")))
            found[0] = Or((found[0], *other[:1], self._member_filter(shape)))
        rng.shuffle(found)
        return found

    def _member_filter(self, shape: Shape) -> Filter:
        rng = self.rng
        stored = [
            name
            for name in ("event_type", "course_id", "university", "learner_id")
            if name in shape.dimensions
        ]
        if stored and rng.random() < 0.85:
            member = rng.choice(stored)
        else:
            member = rng.choice(("event_type", "course_id", "university", "course.level"))
        if "course_id" in shape.dimensions and rng.random() < 0.15:
            member = "course.level"
        if member == "course.level":
            op = rng.choice(EVENT_OPS)
            return Condition(member, op, tuple(rng.sample(LEVELS, 1 if op != "in" else rng.randint(1, 2))))
        if member == "event_type":
            op = rng.choice(EVENT_OPS)
            values = ["module_started", "module_completed", "module_started", "module_completed", "enrolled"]
            return Condition(member, op, tuple(rng.sample(values, 1 if op != "in" else rng.randint(1, 2))))
        if member == "course_id":
            return Condition(member, "in", tuple(rng.sample(range(1, 31), rng.randint(1, 5))))
        if member == "learner_id":
            return Condition(member, "in", tuple(rng.sample(range(1, 1_501), rng.randint(20, 200))))
        return Condition(member, rng.choice(TEXT_OPS), (rng.choice(self.partners),))

    def _time_filters(self, shape: Shape, zone: str, form: str) -> list[Filter]:
        """Filters on one window: its start, its end or both, mostly with an operator that
        keeps whole buckets (`afterDate` and the end of an `inDateRange` as dates), else with
        one that does not."""
        if form == "none":
            return []
        rng = self.rng
        start, end = self._window(shape)
        whole = rng.random() < 0.75
        if form == "range":
            # Never empty: a date end covers its whole day, a date start begins before its instant.
            last = (
                self._value(end - timedelta(seconds=1), zone, dated=True)
                if whole
                else self._value(end, zone, False)
            )
            return [Condition("occurred_at", "inDateRange", (self._value(start, zone), last))]
        found: list[Filter] = []
        if form in ("start", "both"):
            op = rng.choice(WHOLE_STARTS if whole else CUT_STARTS)
            if op == "afterDate" and whole:  # from the day after the date given
                found.append(
                    Condition("occurred_at", op, (self._value(start - timedelta(seconds=1), zone, True),))
                )
            else:
                found.append(
                    Condition("occurred_at", op, (self._value(start, zone, None if whole else False),))
                )
        if form in ("end", "both"):
            op = rng.choice(WHOLE_ENDS if whole else CUT_ENDS)
            found.append(Condition("occurred_at", op, (self._value(end, zone),)))
        return found

    def _window(self, shape: Shape) -> tuple[datetime, datetime]:
        """A start and an end, on the shape's bucket boundaries (most of the time), within the
        retention rollup's kept days when the shape is that one."""
        rng = self.rng
        first = KEPT_FROM if shape.retained and rng.random() < 0.9 else FIRST
        day = first + timedelta(days=rng.randint(0, (LAST - first).days))
        if shape.grain == "30 minutes":
            start = datetime.combine(day, datetime.min.time(), UTC) + timedelta(
                minutes=30 * rng.randint(0, 47)
            )
        else:
            if shape.grain == "week":
                day -= timedelta(days=day.weekday())
            elif shape.grain == "month":
                day = day.replace(day=1)
            start = datetime.combine(day, datetime.min.time(), ZoneInfo(shape.zones[0]))
        if shape.grain == "month":
            months = start.month - 1 + rng.randint(1, 14)
            end = start.replace(year=start.year + months // 12, month=months % 12 + 1)
        else:
            step = 7 if shape.grain == "week" else 1
            end = start + timedelta(days=step * rng.randint(1, 16 if step == 7 else 90))
        if rng.random() < 0.15:
            start += timedelta(minutes=rng.choice((1, 15, 45, 90, 330, 345, 720)))
        if rng.random() < 0.15:
            end += timedelta(minutes=rng.choice((1, 15, 45, 90, 330, 345, 720)))
        return start, end

    def _value(self, moment: datetime, zone: str, dated: bool | None = None) -> FilterValue:
        """The instant as a client writes it: a date of the query's zone (`dated`: always,
        False: never), a naive date-time (read in the query's zone), or a date-time with an
        offset."""
        rng = self.rng
        local = moment.astimezone(ZoneInfo(zone))
        kind = rng.random() if dated is None else 0.0 if dated else rng.uniform(0.4, 1.0)
        if kind < 0.4:
            return local.date()
        if kind < 0.7:
            return local.replace(tzinfo=None)
        return moment.astimezone(rng.choice(OFFSETS))

    # --- principals -----------------------------------------------------------------

    def _who(self, shape: Shape) -> Who:
        rng = self.rng
        kind = rng.random()
        # The default policy's admins come with suppression (5 learners), which only the rollups
        # keeping the learner serve; those also get suppression alone, at minimums of its own,
        # as the authorizer expresses it.
        suppressed, roles = (0.2, 0.45) if shape.learners else (0.0, 0.1)
        if kind < suppressed:
            return Who(None, None, (Condition("active_learners", "gte", (rng.choice((2, 3, 5)),)),))
        if kind < roles:
            if rng.random() < 0.5:
                return Who("university_admin", rng.choice(self.partners))
            return Who("enterprise_admin", rng.choice(self.enterprises))
        if kind < 0.6:
            return Who(None, None)
        if kind < 0.8:
            return Who(None, None, (Condition("partner_id", "equals", (rng.choice(self.partners),)),))
        return Who(None, None, (Condition("enterprise_id", "equals", (rng.choice(self.enterprises),)),))


def describe(draw: Draw) -> dict[str, Any]:
    return {"near": draw.shape.rollup, "query": draw.query, "who": str(draw.who)}
