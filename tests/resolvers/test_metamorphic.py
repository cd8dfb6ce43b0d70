"""Metamorphic properties of query results, on the demo data, for several principals.

No oracle SQL here: each property compares Cohort with itself under a change that must
not change the answer (or must change it in a known way):
- the set of groups does not depend on which measures are selected, and each measure's
  value per group is the same queried alone or with other measures;
- a filter on a selected dimension gives the groups (and values) of the unfiltered query
  that satisfy it;
- counts and sums at a time grain add up exactly to those of a coarser grain, in the
  same time zone.
Queries are drawn over every model, with joins up to two steps away (both directions),
every grain and several time zones. Principals bring row filters, masking and
small-group suppression; where a change would add a model to the join tree (so new row
filters or suppression by that model's learners may apply) the property is only drawn
for the platform admin, whose policy has neither.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from authz.audit import Audit
from authz.authorizer import Authorizer
from authz.enforcer import PolicyEnforcer
from authz.errors import AccessDenied
from authz.policy_store import DEFAULT_POLICY, read_policy_file
from resolvers.executor import Executor
from resolvers.service import QueryService
from schema.query import MAX_LIMIT, Condition, DimensionRef, EffectiveQuery, SemanticQuery
from schema.registry import Registry
from tests.authz.strategies import Who
from tests.resolvers.oracle import oracle

pytestmark = pytest.mark.integration

ZONES = ("UTC", "Europe/London", "America/New_York", "America/Sao_Paulo", "Asia/Kolkata")
# (finer, coarser) grains where every finer bucket lies inside one coarser bucket.
NESTED = (("hour", "day"), ("day", "week"), ("day", "month"), ("month", "quarter"), ("quarter", "year"))
ADDITIVE = frozenset({"count", "sum"})
PROPERTY = settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
Rows = list[tuple[Any, ...]]


# --- the catalogue of members, from the registry ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Public dimensions (time ones with a grain) and measures reachable from a model."""

    dimensions: tuple[tuple[DimensionRef, str], ...]  # (ref, dimension type)
    measures: tuple[tuple[str, str], ...]  # (member, measure type)


def catalogue(registry: Registry, root: str, depth: int = 2) -> Catalogue:
    """Paths go many_to_one then one_to_many at most in that order, never back down: a
    path such as progress_events.course.enrollments pairs every event with every
    enrollment of its course (millions of rows on the test data), which is a valid
    query but far too slow for a property drawn hundreds of times."""
    dimensions: list[tuple[DimensionRef, str]] = []
    measures: list[tuple[str, str]] = []
    # (path, model, whether the path has gone up a many_to_one join already)
    frontier: list[tuple[tuple[str, ...], str, bool]] = [((), root, False)]
    for level in range(depth + 1):
        next_frontier = []
        for path, name, went_up in frontier:
            model = registry.model(name)
            prefix = "".join(f"{step}." for step in path)
            for dim_name, dim in model.dimensions.items():
                if not dim.public:
                    continue
                if dim.type == "time":
                    for grain in dim.granularities or ("hour", "day", "week", "month", "quarter", "year"):
                        if grain in ("hour", "day", "week", "month", "quarter", "year"):
                            dimensions.append((DimensionRef(prefix + dim_name, grain), "time"))
                else:
                    dimensions.append((DimensionRef(prefix + dim_name), dim.type))
            measures += [(prefix + m, spec.type) for m, spec in model.measures.items() if spec.public]
            if level < depth:
                next_frontier += [
                    ((*path, join), spec.model, went_up or spec.relationship == "many_to_one")
                    for join, spec in model.joins.items()
                    if not (went_up and spec.relationship == "one_to_many")
                ]
        frontier = next_frontier
    return Catalogue(tuple(dimensions), tuple(measures))


def tree(dimensions: Sequence[DimensionRef], measures: Sequence[str]) -> frozenset[tuple[str, ...]]:
    """The join-tree nodes a selection reaches (every prefix of every member's path)."""
    members = [d.member for d in dimensions] + list(measures)
    nodes = set()
    for member in members:
        steps = member.split(".")[:-1]
        nodes |= {tuple(steps[: i + 1]) for i in range(len(steps))}
    return frozenset(nodes)


# --- running queries as a principal ----------------------------------------------------------


def without_suppression() -> list[list[str]]:
    """The demo policy with every role's minimum group size set to 1."""
    return [(*rule[:3], "1") if rule[0] == "p3" else rule for rule in read_policy_file(DEFAULT_POLICY)]


class Runner:
    def __init__(self, registry: Registry, service: QueryService, policy: list[list[str]]) -> None:
        self.registry = registry
        self.service = service
        self.authorizer = Authorizer(lambda: PolicyEnforcer(policy, 1), Audit())

    def authorize(self, who: Who, query: SemanticQuery) -> EffectiveQuery | None:
        try:
            return self.authorizer.authorize(self.registry, who.principal(), query)
        except AccessDenied:
            return None

    async def rows(self, who: Who, query: SemanticQuery) -> Rows | None:
        """The rows, or None when the principal may not ask this (or the page is full)."""
        effective = self.authorize(who, replace(query, limit=MAX_LIMIT))
        if effective is None:
            return None
        result = await self.service.run(effective)
        rows = [tuple(row) for row in result.rows]
        return None if len(rows) == MAX_LIMIT else rows


@pytest.fixture(scope="module")
def service(registry: Registry, engine: AsyncEngine) -> QueryService:
    return QueryService(registry, Executor(engine))


@pytest.fixture(scope="module")
def runner(registry: Registry, service: QueryService) -> Runner:
    return Runner(registry, service, read_policy_file(DEFAULT_POLICY))


@pytest.fixture(scope="module")
def unsuppressed(registry: Registry, service: QueryService) -> Runner:
    return Runner(registry, service, without_suppression())


@pytest.fixture(scope="module")
async def principals(engine: AsyncEngine) -> tuple[Who, ...]:
    organizations = await oracle(engine, "select id, kind from organizations order by id")
    university = next(org for org, kind in organizations if kind == "university")
    enterprise = next(org for org, kind in organizations if kind == "enterprise")
    [(instructor, partner)] = await oracle(
        engine,
        "select c.instructor_id, c.partner_id from enrollments e join courses c on c.id = e.course_id "
        "group by 1, 2 order by count(distinct e.learner_id) desc, 1 limit 1",
    )
    return (
        Who("platform_admin", "cohort-staff"),
        Who("university_admin", university),
        Who("enterprise_admin", enterprise),
        Who("instructor", partner, instructor),
    )


_seen: dict[str, int] = {}


def _count(name: str) -> None:
    _seen[name] = _seen.get(name, 0) + 1


# --- comparing results -------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def keyed(rows: Rows, width: int) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    found = {row[:width]: row[width:] for row in rows}
    assert len(found) == len(rows), "two rows for one group"
    return found


def assert_columns_agree(
    got: dict[tuple[Any, ...], tuple[Any, ...]],
    want: dict[tuple[Any, ...], tuple[Any, ...]],
    columns: Sequence[tuple[int, int]],  # (index in got's values, index in want's values)
) -> None:
    assert set(got) == set(want), {
        "only here": sorted(set(got) - set(want), key=repr)[:3],
        "only there": sorted(set(want) - set(got), key=repr)[:3],
    }
    for key, values in want.items():
        for mine, theirs in columns:
            assert _same(got[key][mine], values[theirs]), (key, got[key], values)


# --- 1. groups and values do not depend on the other measures --------------------------------


@pytest.mark.parametrize("root", ["learners", "enrollments", "courses", "progress_events", "feedback"])
@PROPERTY
@given(data=st.data())
async def test_groups_and_values_do_not_depend_on_the_other_measures(
    data: st.DataObject, registry: Registry, runner: Runner, principals: tuple[Who, ...], root: str
) -> None:
    who = data.draw(st.sampled_from(principals), "who")
    members = catalogue(registry, root)
    dims = tuple(d for d, _ in data.draw(st.permutations(members.dimensions))[: data.draw(st.integers(0, 2))])
    pool = tuple(m for m, _ in data.draw(st.permutations(members.measures))[: data.draw(st.integers(1, 4))])
    query = SemanticQuery(root, pool, dims, timezone=data.draw(st.sampled_from(ZONES), "tz"))
    note(f"{who}: {query}")
    full = await runner.rows(who, query)
    if full is None:
        return _count("skipped")
    _count("examples")
    _count("with rows" if full else "empty")
    everything = keyed(full, len(dims))
    any_tree = who.role == "platform_admin"  # no row filters, no suppression
    variants = [(m,) for m in pool] + [pool[1:], pool[:-1]] + ([()] if dims else [])
    for measures in variants:
        if not (measures or dims) or (not any_tree and tree(dims, measures) != tree(dims, pool)):
            continue
        rows = await runner.rows(who, replace(query, measures=measures))
        assert rows is not None
        got = keyed(rows, len(dims))
        columns = [(i, pool.index(m)) for i, m in enumerate(measures)]
        note(f"variant {measures}")
        assert_columns_agree(got, everything, columns)
        _count("variants")
        if len(measures) < len(pool) and tree(dims, measures) != tree(dims, pool):
            _count("variants with fewer joins")


# --- 2. a filter on a selected dimension keeps the groups that satisfy it ----------------------


def _next_bucket(start: datetime, grain: str) -> datetime:
    match grain:
        case "day":
            return start + timedelta(days=1)
        case "week":
            return start + timedelta(days=7)
        case "month":
            return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        case "quarter":
            month = start.month + 3
            return start.replace(year=start.year + (month - 1) // 12, month=(month - 1) % 12 + 1)
        case "year":
            return start.replace(year=start.year + 1)
    raise AssertionError(grain)


def _filter_for(ref: DimensionRef, kind: str, value: Any) -> tuple[Condition, Callable[[Any], bool]]:
    """A condition on the dimension that one of its values satisfies, and the same test in
    Python on a result value."""
    if kind == "time":
        assert ref.granularity is not None
        end = _next_bucket(value, ref.granularity)
        dates = (value.date().isoformat(), (end.date() - timedelta(days=1)).isoformat())
        return Condition(ref.member, "inDateRange", dates), lambda x: x is not None and value <= x < end
    if kind == "number":
        return Condition(ref.member, "gte", (value,)), lambda x: x is not None and x >= value
    return Condition(ref.member, "equals", (value,)), lambda x: x == value


@pytest.mark.parametrize("root", ["learners", "enrollments", "progress_events", "feedback", "skill_scores"])
@PROPERTY
@given(data=st.data())
async def test_a_filter_on_a_selected_dimension_keeps_the_groups_that_satisfy_it(
    data: st.DataObject, registry: Registry, runner: Runner, principals: tuple[Who, ...], root: str
) -> None:
    who = data.draw(st.sampled_from(principals), "who")
    members = catalogue(registry, root)
    usable = [(d, kind) for d, kind in members.dimensions if d.granularity != "hour"]  # DST: see below
    chosen = data.draw(st.permutations(usable))[: data.draw(st.integers(1, 2))]
    dims = tuple(d for d, _ in chosen)
    pool = tuple(m for m, _ in data.draw(st.permutations(members.measures))[: data.draw(st.integers(1, 3))])
    query = SemanticQuery(root, pool, dims, timezone=data.draw(st.sampled_from(ZONES), "tz"))
    note(f"{who}: {query}")
    full = await runner.rows(who, query)
    if full is None:
        return _count("skipped")
    index = data.draw(st.integers(0, len(dims) - 1), "filtered dimension")
    values = sorted({row[index] for row in full if row[index] is not None}, key=repr)
    if not values or values == ["***"]:  # no value, or a masked dimension (it can't be filtered on)
        return _count("skipped")
    value = data.draw(st.sampled_from(values), "value")
    condition, keep = _filter_for(dims[index], chosen[index][1], value)
    note(f"filter {condition}")
    filtered = await runner.rows(who, replace(query, filters=(condition,)))
    assert filtered is not None
    expected = keyed([row for row in full if keep(row[index])], len(dims))
    assert expected, "the filter's own value must keep a group"
    assert_columns_agree(keyed(filtered, len(dims)), expected, [(i, i) for i in range(len(pool))])
    _count("filtered")


# --- 3. a finer grain adds up to a coarser one --------------------------------------------------


def _bucket(value: datetime | None, grain: str) -> datetime | None:
    if value is None:
        return None
    day = value.replace(hour=0, minute=0, second=0, microsecond=0)
    match grain:
        case "day":
            return day
        case "week":
            return day - timedelta(days=day.weekday())
        case "month":
            return day.replace(day=1)
        case "quarter":
            return day.replace(day=1, month=3 * ((day.month - 1) // 3) + 1)
        case "year":
            return day.replace(day=1, month=1)
    raise AssertionError(grain)


@pytest.mark.parametrize(
    "root", ["learners", "enrollments", "progress_events", "feedback", "skill_scores", "submissions"]
)
@PROPERTY
@given(data=st.data())
async def test_counts_and_sums_at_a_grain_add_up_to_the_coarser_grain(
    data: st.DataObject, registry: Registry, unsuppressed: Runner, principals: tuple[Who, ...], root: str
) -> None:
    """Suppression drops small fine groups, so this one runs without it (row filters stay)."""
    who = data.draw(st.sampled_from(principals), "who")
    model = registry.model(root)
    times = [name for name, d in model.dimensions.items() if d.public and d.type == "time"]
    finer, coarser = data.draw(st.sampled_from(NESTED), "grains")
    time = data.draw(st.sampled_from(times), "time dimension")
    allowed = model.dimensions[time].granularities
    if allowed is not None and not {finer, coarser} <= set(allowed):
        return _count("skipped")
    others = [d for d, kind in catalogue(registry, root, depth=1).dimensions if kind != "time"]
    other = tuple(data.draw(st.permutations(others))[: data.draw(st.integers(0, 1))])
    additive = [m for m, spec in model.measures.items() if spec.public and spec.type in ADDITIVE]
    measures = tuple(data.draw(st.permutations(additive))[: data.draw(st.integers(1, 3))])
    zone = data.draw(st.sampled_from(ZONES), "tz")

    def at(grain: str) -> SemanticQuery:
        return SemanticQuery(root, measures, (*other, DimensionRef(time, grain)), timezone=zone)  # type: ignore[arg-type]

    note(f"{who}: {at(finer)} vs {coarser}")
    fine, coarse = await unsuppressed.rows(who, at(finer)), await unsuppressed.rows(who, at(coarser))
    if fine is None or coarse is None:
        return _count("skipped")
    width = len(other)
    folded: dict[tuple[Any, ...], list[Any]] = {}
    for row in fine:
        key = (*row[:width], _bucket(row[width], coarser))
        totals = folded.setdefault(key, [None] * len(measures))
        for i, value in enumerate(row[width + 1 :]):
            if value is not None:
                totals[i] = value if totals[i] is None else totals[i] + value
    want = {key: tuple(values) for key, values in folded.items()}
    got = keyed(coarse, width + 1)
    assert_columns_agree(got, want, [(i, i) for i in range(len(measures))])
    _count("grains")
    _count("grains with rows" if fine else "grains empty")


def test_the_properties_saw_real_queries() -> None:
    """The draws above must not have been mostly skipped or empty."""
    assert _seen.get("examples", 0) >= 60, _seen
    assert _seen.get("with rows", 0) >= 40, _seen
    assert _seen.get("variants", 0) >= 100, _seen
    assert _seen.get("variants with fewer joins", 0) >= 10, _seen
    assert _seen.get("filtered", 0) >= 40, _seen
    assert _seen.get("grains with rows", 0) >= 40, _seen


def test_date_buckets_nest() -> None:
    """The test's own bucketing: every finer bucket starts inside its coarser bucket."""
    start = datetime(2024, 12, 30, 23)
    for finer, coarser in NESTED:
        if finer == "hour":
            continue
        first = _bucket(start, finer)
        assert first is not None
        outer = _bucket(first, coarser)
        assert outer is not None and outer <= first < _next_bucket(outer, coarser)
    assert _bucket(start, "week") == datetime(2024, 12, 30)  # a Monday
    assert _bucket(start, "quarter") == datetime(2024, 10, 1)
    assert _next_bucket(datetime(2024, 11, 1), "quarter") == datetime(2025, 2, 1)
    assert date(2024, 12, 30).weekday() == 0
