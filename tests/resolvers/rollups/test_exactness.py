"""Rollups are exact: an answer served from a rollup is the answer of the raw tables, or the
query is not served from the rollup (and says why).

The warehouse (tests/resolvers/rollups/warehouse.py) is the tiny demo with rollups of every
kind the matcher knows, built, then reached by late events three ways: merged by a refresh,
recomputed with the recent days (ids committed out of order among them), and still past the
watermark (read from the raw rows). Hundreds of random queries (tests/resolvers/rollups/
draws.py), with principals, row filters, small-group suppression and time zones, run through
a QueryService with the rollups' catalog and through one without, on the same database.
`COHORT_EXACTNESS_SEEDS=1,2,3` draws other queries.
"""

from __future__ import annotations

import math
import os
import random
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from api.ingest.service import asyncpg_dsn
from api.rollups import refresh
from authz.audit import Audit
from authz.authorizer import Authorizer
from authz.enforcer import PolicyEnforcer
from authz.errors import AccessDenied
from authz.policy_store import DEFAULT_POLICY, read_policy_file
from authz.principal import Principal
from resolvers.compiler import CompiledQuery
from resolvers.executor import Executor, create_engine
from resolvers.planner import plan
from resolvers.rollups.catalog import RollupCatalog
from resolvers.rollups.layout import SCHEMA
from resolvers.rollups.matcher import choose
from resolvers.service import QueryService
from schema.query import Condition, DimensionRef, EffectiveQuery, SemanticQuery
from schema.registry import Registry
from tests.databases import demo_database
from tests.resolvers.rollups.draws import Draw, Drawer, describe
from tests.resolvers.rollups.warehouse import (
    LATER,
    NOW,
    ROLLUPS,
    Late,
    build_with_late_events,
    load_models,
    progress_layouts,
)

pytestmark = pytest.mark.integration

SEEDS = [int(seed) for seed in os.environ.get("COHORT_EXACTNESS_SEEDS", "20261202,7").split(",")]
QUERIES = 200  # per seed
LATE_SEED = 11  # the late events'
HALF_HOUR = "progress_events.by_half_hour"
KEYS = sorted(f"progress_events.{name}" for name in ROLLUPS)


@dataclass(frozen=True, slots=True)
class Served:
    registry: Registry
    executor: Executor
    catalog: RollupCatalog
    rollups: QueryService  # serves from rollups when it can
    raw: QueryService  # never does
    conn: asyncpg.Connection  # the refreshing side
    late: Late
    partners: list[str]
    enterprises: list[str]
    authorizer: Authorizer


@pytest.fixture(scope="module")
async def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    async with demo_database(database_url, "rollups") as url:
        registry = load_models(tmp_path_factory.mktemp("models"))
        conn = await asyncpg.connect(asyncpg_dsn(url))
        executor = Executor(create_engine(url, pool_size=2))
        try:
            late = await build_with_late_events(conn, progress_layouts(registry), LATE_SEED)
            catalog = RollupCatalog(executor.rows)
            await catalog.load()
            assert len(catalog.states) == len(ROLLUPS)
            assert {state.watermark for state in catalog.states.values()} == {late.watermark}
            partners = await _values(conn, "partner_id")
            enterprises = await _values(conn, "enterprise_id")
            policy = read_policy_file(DEFAULT_POLICY)
            yield Served(
                registry,
                executor,
                catalog,
                QueryService(registry, executor, rollups=catalog),
                QueryService(registry, executor),
                conn,
                late,
                partners,
                enterprises,
                Authorizer(lambda: PolicyEnforcer(policy, 1), Audit()),
            )
        finally:
            await executor.engine.dispose()
            await conn.close()


async def _values(conn: asyncpg.Connection, column: str) -> list[str]:
    query = f"select distinct {column} from progress_events where {column} is not null order by 1"  # noqa: S608
    return [row[0] for row in await conn.fetch(query)]


# --- comparing answers ---------------------------------------------------------------


def _same_value(got: Any, want: Any) -> bool:
    if isinstance(got, float) and isinstance(want, float):
        # Sums of floats are not associative: adding parts in another order may change the last
        # bits, as PostgreSQL's own parallel aggregation may from one run to the next.
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=0.0)
    return type(got) is type(want) and got == want


def _same_rows(got: Sequence[Sequence[Any]], want: Sequence[Sequence[Any]]) -> bool:
    return len(got) == len(want) and all(
        len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
        for a, b in zip(got, want, strict=True)
    )


def _sort_key(row: Sequence[Any]) -> tuple[str, ...]:
    return tuple(f"{v:.6e}" if isinstance(v, float) else repr(v) for v in row)


@dataclass(frozen=True, slots=True)
class Compared:
    compiled: CompiledQuery  # by the service with rollups
    rows: list[tuple[Any, ...]]

    @property
    def rollup(self) -> str | None:
        assert self.compiled.route is not None
        key: str | None = self.compiled.route["rollup"]
        return key

    @property
    def reason(self) -> str:
        assert self.compiled.route is not None
        return str(self.compiled.route.get("reason") or "")


async def compare(
    served: Served, effective: EffectiveQuery, context: str = "", service: QueryService | None = None
) -> Compared:
    """Runs the query both ways (`service`: the one with rollups) and asserts the same rows:
    in order when a limit cuts them (the planner makes every order total: each dimension
    follows as a tie-breaker), as a multiset otherwise."""
    compiled = (service or served.rollups).compile(effective)
    raw = served.raw.compile(effective)
    assert raw.route is None
    got = [tuple(row) for row in (await served.executor.run(compiled)).rows]
    want = [tuple(row) for row in (await served.executor.run(raw)).rows]
    if effective.query.limit is None:
        got, want = sorted(got, key=_sort_key), sorted(want, key=_sort_key)
    if not _same_rows(got, want):
        diff = [row for row in got if row not in want][:3], [row for row in want if row not in got][:3]
        pytest.fail(
            f"{context}\n{effective}\nroute {compiled.route}\n{len(got)} rows from the rollup, "
            f"{len(want)} raw; only in the rollup's / raw: {diff}\n{compiled.sql}",
            pytrace=False,
        )
    return Compared(compiled, got)


def effective_of(served: Served, draw: Draw) -> EffectiveQuery:
    who = draw.who
    if who.role is None:
        return EffectiveQuery(draw.query, who.mandatory)
    assert who.tenant is not None
    principal = Principal(f"user:{who.role}", who.tenant, (who.role,))
    return served.authorizer.authorize(served.registry, principal, draw.query)


# --- random queries -------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
async def test_rollup_answers_are_the_raw_answers(served: Served, seed: int) -> None:
    drawer = Drawer(random.Random(seed), served.partners, served.enterprises)
    hits: Counter[str] = Counter()
    misses: Counter[str] = Counter()
    suppressed = denied = empty = from_bounds = joined = 0
    for n in range(QUERIES):
        draw = drawer.draw()
        try:
            effective = effective_of(served, draw)
        except AccessDenied:
            denied += 1
            continue
        compared = await compare(served, effective, f"seed {seed}, query {n}: {describe(draw)}")
        empty += not compared.rows
        if compared.rollup is None:
            # A reason for every rollup of the model, each "model.rollup: why".
            parts = [part.partition(": ") for part in compared.reason.split("; ")]
            assert sorted(key for key, _, _ in parts) == KEYS, f"seed {seed}, query {n}: {compared.reason!r}"
            assert all(why for _, _, why in parts), f"seed {seed}, query {n}: {compared.reason!r}"
            misses.update(why.split(" (")[0][:40] for _, _, why in parts)
            continue
        hits[compared.rollup] += 1
        joined += any("." in member for member in _members(draw.query))
        suppressing = any(
            isinstance(f, Condition) and f.member == "active_learners" for f in effective.mandatory_filters
        )
        suppressed += suppressing
        # Suppression from a rollup without the learner: decided by bounds, undecided groups
        # counted exactly (resolvers/rollups/compiler.py).
        rollup = served.registry.model("progress_events").rollups[compared.rollup.split(".")[1]]
        from_bounds += suppressing and "learner_id" not in rollup.dimensions
    asked = QUERIES - denied
    print(f"seed {seed}: {sum(hits.values())} of {asked} served {dict(hits)}, {empty} empty, {joined} joined")
    print(f"  the most frequent reasons a rollup did not fit: {misses.most_common(6)}")
    # Not vacuous: a good share served, by every rollup, suppressed queries among them, and
    # most answers not empty.
    assert sum(hits.values()) >= 0.25 * asked, f"seed {seed}: {hits}"
    for name in ROLLUPS:
        assert hits[f"progress_events.{name}"] >= 3, f"seed {seed}: {name} served {hits}"
    assert joined >= 5, f"seed {seed}: {joined} served with joined members"
    assert suppressed >= 3 and from_bounds >= 1, (
        f"seed {seed}: {suppressed} suppressed, {from_bounds} by bounds"
    )
    assert empty < 0.5 * asked, f"seed {seed}"


def _members(query: SemanticQuery) -> list[str]:
    def filtered(items: Sequence[Any]) -> list[str]:
        found = []
        for item in items:
            found += [item.member] if isinstance(item, Condition) else filtered(item.items)
        return found

    return [d.member for d in query.dimensions] + filtered(query.filters)


# --- focused cases --------------------------------------------------------------------


def _query(**kwargs: Any) -> EffectiveQuery:
    mandatory = kwargs.pop("mandatory", ())
    return EffectiveQuery(SemanticQuery("progress_events", **kwargs), tuple(mandatory))


async def test_late_events_are_read_on_every_path(served: Served) -> None:
    """The tail past the watermark is not empty, and the recent days include the rows whose
    ids are below the watermark (only a recomputation sees those)."""
    late = served.late
    above = await served.conn.fetchval("select count(*) from progress_events where id > $1", late.watermark)
    assert above == late.tail > 0
    recent = _query(
        measures=("count", "minutes_total"),
        dimensions=(DimensionRef("occurred_at", "day"),),
        filters=(Condition("occurred_at", "gte", (date(2025, 12, 29),)),),
    )
    assert (await compare(served, recent)).rollup is not None
    below = await served.conn.fetchval("select count(*) from progress_events where id < 1")
    assert below == served.late.out_of_order > 0


async def test_a_total_over_no_rows_counts_zero(served: Served) -> None:
    """Without dimensions, a query gives one row even when no row matches: counts 0 (as
    count() gives), sums and averages NULL."""
    nothing = _query(
        measures=("count", "modules_started", "minutes_total", "avg_minutes", "completion_share"),
        filters=(Condition("occurred_at", "inDateRange", (date(2023, 1, 1), date(2023, 1, 31))),),
    )
    compared = await compare(served, nothing)
    assert compared.rollup == "progress_events.by_course_day"
    assert compared.rows == [(0, 0, None, None, None)]


async def test_half_hours_serve_kolkata_and_new_york_but_not_kathmandu(served: Served) -> None:
    def hourly(zone: str, start: date) -> EffectiveQuery:
        return _query(
            measures=("count", "minutes_total", "max_minutes"),
            dimensions=(DimensionRef("occurred_at", "hour"), DimensionRef("event_type")),
            filters=(Condition("occurred_at", "inDateRange", (start, start + timedelta(days=3))),),
            timezone=zone,
        )

    assert (await compare(served, hourly("Asia/Kolkata", date(2025, 12, 29)))).rollup == HALF_HOUR
    # Across the change to summer time (2025-03-09): offsets of whole hours either side.
    assert (await compare(served, hourly("America/New_York", date(2025, 3, 8)))).rollup == HALF_HOUR
    refused = await compare(served, hourly("Asia/Kathmandu", date(2025, 12, 29)))
    assert refused.rollup is None
    assert f"{HALF_HOUR}: Asia/Kathmandu has UTC offsets that are not whole 30 minutes" in refused.reason
    assert refused.rows


async def test_a_filter_cutting_inside_a_bucket_is_refused(served: Served) -> None:
    def since(moment: datetime) -> EffectiveQuery:
        return _query(
            measures=("count", "avg_minutes"),
            dimensions=(DimensionRef("university"),),
            filters=(Condition("occurred_at", "gte", (moment,)),),
        )

    boundary = await compare(served, since(datetime(2025, 6, 1, tzinfo=UTC)))
    assert boundary.rollup is not None
    # 10:15 is inside every rollup's bucket (days, weeks, half hours).
    inside = await compare(served, since(datetime(2025, 6, 1, 10, 15, tzinfo=UTC)))
    assert inside.rollup is None
    for name in ("by_course_day", "by_course_day_ist", "by_half_hour", "recent_by_day"):  # with university
        assert f"progress_events.{name}: the time filter cuts inside a" in inside.reason
    # An operator that keeps part of a bucket, on a boundary: refused too.
    after = _query(
        measures=("count",), filters=(Condition("occurred_at", "gt", (datetime(2025, 6, 1, tzinfo=UTC),)),)
    )
    assert "a time filter (gt) that does not keep whole buckets" in (await compare(served, after)).reason


async def test_joined_members_are_read_through_stored_keys(served: Served) -> None:
    """`course.title` through the stored `course_id`, two joins away, as a filter, and as a
    university admin (row filter on the model): exact; refused with the reason otherwise."""
    by_title = _query(
        measures=("count", "modules_completed"),
        dimensions=(DimensionRef("course.title"), DimensionRef("course.partner.name")),
        filters=(Condition("course.level", "in", ("beginner", "advanced")),),
    )
    served_by = await compare(served, by_title)
    assert served_by.rollup is not None and len(served_by.rows) > 3
    partner = served.partners[0]
    principal = Principal("user:joined", partner, ("university_admin",))
    tenant = served.authorizer.authorize(
        served.registry,
        principal,
        SemanticQuery("progress_events", ("count",), (DimensionRef("course.subject"),)),
    )
    as_tenant = await compare(served, tenant)
    assert as_tenant.rollup is not None and as_tenant.rows
    want = await served.conn.fetch(
        "select c.subject, count(*) from progress_events e left join courses c on c.id = e.course_id"
        " where e.partner_id = $1 and c.partner_id = $1"
        " group by 1 having count(distinct e.learner_id) >= 5",
        partner,
    )
    assert sorted(as_tenant.rows) == sorted((row[0], row[1]) for row in want)
    # An instructor's row filter is on the course (course.instructor_id): a joined filter.
    instructor, partner = await served.conn.fetchrow(
        "select instructor_id, partner_id from courses order by id limit 1"
    )
    teaching = served.authorizer.authorize(
        served.registry,
        Principal("user:teacher", partner, ("instructor",), {"instructor_id": instructor}),
        SemanticQuery("progress_events", ("count", "modules_completed"), (DimensionRef("course_id"),)),
    )
    as_instructor = await compare(served, teaching)
    assert as_instructor.rollup is not None and as_instructor.rows
    taught = await served.conn.fetchval(
        "select count(*) from courses where instructor_id = $1 and partner_id = $2", instructor, partner
    )
    assert 0 < len(as_instructor.rows) <= taught

    for query, why in (
        (
            _query(measures=("count",), dimensions=(DimensionRef("module.title"),)),
            "progress_events.by_course_day: the join to modules needs progress_events.module_id, "
            "which is not stored",
        ),
        (
            _query(measures=("count", "course.count"), dimensions=(DimensionRef("course_id"),)),
            "progress_events.by_course_day: measures of joined models (course) are not stored",
        ),
        (
            _query(measures=("count",), dimensions=(DimensionRef("course.enrollments.status"),)),
            "progress_events.by_course_day: course.enrollments is joined one-to-many",
        ),
    ):
        refused = await compare(served, query)
        assert refused.rollup is None
        assert why in refused.reason


async def test_small_group_suppression_is_served_exactly(served: Served) -> None:
    partner = served.partners[0]
    principal = Principal("user:university_admin", partner, ("university_admin",))
    query = SemanticQuery(
        "progress_events",
        measures=("active_learners", "learners_completing", "count"),
        dimensions=(DimensionRef("occurred_at", "day"),),
        filters=(Condition("occurred_at", "inDateRange", (date(2025, 9, 1), date(2025, 12, 31))),),
    )
    effective = served.authorizer.authorize(served.registry, principal, query)
    assert Condition("active_learners", "gte", (5,)) in effective.mandatory_filters
    suppressed = await compare(served, effective)
    assert suppressed.rollup == "progress_events.learners_by_day"
    # The same groups without suppression: it dropped some, and kept some.
    unsuppressed = await compare(
        served, replace(effective, mandatory_filters=(Condition("partner_id", "equals", (partner,)),))
    )
    assert 0 < len(suppressed.rows) < len(unsuppressed.rows)


async def test_retention_serves_only_its_kept_days(served: Served) -> None:
    layouts = served.rollups.layouts
    state = served.catalog.states["progress_events.recent_by_day"]
    assert state.covered_from is not None
    first = state.covered_from.date()

    def since(day: date) -> EffectiveQuery:
        return _query(
            measures=("count", "minutes_total"),
            dimensions=(DimensionRef("university"), DimensionRef("event_type")),
            filters=(Condition("occurred_at", "gte", (day,)),),
        )

    kept = await compare(served, since(first))
    assert kept.rollup == "progress_events.recent_by_day"
    earlier = since(first - timedelta(days=1))
    choice = choose(plan(served.registry, earlier), layouts, served.catalog.states)
    assert dict(choice.misses)["progress_events.recent_by_day"] == (
        f"the query's time range starts before {first:%Y-%m-%d}, the rollup's first day"
    )
    assert (await compare(served, earlier)).rollup == "progress_events.by_course_day"


async def test_a_new_definition_is_served_once_built(served: Served, tmp_path: Path) -> None:
    """The week rollup gains a dimension: until a refresh builds the new version, the model's
    queries that need it run on the raw tables ("being rebuilt"); then it serves them."""
    week = ROLLUPS["by_week"]
    changed = {**ROLLUPS, "by_week": {**week, "dimensions": [*week["dimensions"], "module_id"]}}
    registry = load_models(tmp_path / "models", changed)
    catalog = RollupCatalog(served.executor.rows)
    await catalog.load()
    service = QueryService(registry, served.executor, rollups=catalog)
    new = next(layout for layout in progress_layouts(registry) if layout.name == "by_week")
    old = next(layout for layout in progress_layouts(served.registry) if layout.name == "by_week")
    assert new.version != old.version
    query = _query(
        measures=("count", "max_minutes"),
        dimensions=(DimensionRef("occurred_at", "week"), DimensionRef("module_id")),
        filters=(Condition("occurred_at", "gte", (date(2025, 11, 3),)),),
    )
    before = service.compile(query)
    assert before.route is not None and before.route["rollup"] is None
    assert "progress_events.by_week: being rebuilt for its new definition" in before.route["reason"]
    try:
        assert (await refresh.refresh(served.conn, new, now=LATER)).action == "built"
        await catalog.load()
        assert (await compare(served, query, service=service)).rollup == "progress_events.by_week"
        # A server still on the old definition now waits for its own version.
        await served.catalog.load()
        weekly = _query(measures=("count",), dimensions=(DimensionRef("occurred_at", "week"),))
        choice = choose(plan(served.registry, weekly), served.rollups.layouts, served.catalog.states)
        assert dict(choice.misses)["progress_events.by_week"] == "being rebuilt for its new definition"
        assert (await compare(served, weekly)).rollup != "progress_events.by_week"
    finally:
        assert (await refresh.refresh(served.conn, old, now=LATER)).action == "built"
        await served.catalog.load()


async def test_a_rebuild_at_the_same_instant_builds_a_table_of_its_own(served: Served) -> None:
    """`--rebuild` right after a build (here: the same `now`) builds beside the current table,
    whose name came from the same second, then retires it."""
    layout = next(layout for layout in progress_layouts(served.registry) if layout.name == "learners_by_week")
    current = served.catalog.states[layout.key].table
    assert (await refresh.refresh(served.conn, layout, rebuild=True, now=NOW)).action == "built"
    await served.catalog.load()
    state = served.catalog.states[layout.key]
    assert state.table != current and state.watermark == served.late.watermark + served.late.tail
    retired = await served.conn.fetchval(
        f"select count(*) from {SCHEMA}.retired where table_name = $1",  # noqa: S608
        current,
    )
    assert retired == 1
    query = _query(measures=("active_learners",), dimensions=(DimensionRef("occurred_at", "week"),))
    assert (await compare(served, query)).rollup == layout.key
