"""Rollups end to end, on a database of their own (the session's stays without rollups, so
other tests' SQL is not served from them): GraphQL answers from a rollup equal to hand-written
SQL for the caller's tenant alone, `extensions.rollups` with the choice or the reason, new
rows seen before any refresh (the raw rows past the watermark), late rows merged into their
old bucket, ingested events through the ingest watermark, one refresher at a time, and
`cohort rollups status`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from api.cli import app as cli
from api.ingest.service import asyncpg_dsn
from api.rollups import refresh as refreshing
from api.rollups import tables
from api.services import asyncpg_url
from api.settings import RollupSettings, Settings
from resolvers.database import DatabaseTimeouts
from resolvers.executor import Executor, create_engine
from resolvers.rollups.catalog import RollupCatalog
from resolvers.rollups.layout import Layout, layouts
from resolvers.service import QueryService
from schema.query import And, Condition, DimensionRef, EffectiveQuery, SemanticQuery
from schema.registry import Registry
from tests.api.ingest.test_events_endpoint import post, token_for
from tests.databases import demo_database, free_port
from tests.ingestion import event
from tests.serving import serving
from tests.tokens import Mint

pytestmark = pytest.mark.integration

TOP_COURSES = """{ progressEvents(orderBy: [{modulesCompleted: DESC}, {courseId: ASC}], limit: 5) {
    courseId modulesCompleted } }"""


@pytest.fixture(scope="module")
async def rollup_url(database_url: str) -> AsyncIterator[str]:
    async with demo_database(database_url, "served", policy=True) as url:
        yield url


@pytest.fixture
async def conn(rollup_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(asyncpg_dsn(rollup_url))
    yield connection
    await connection.close()


async def refresh_all(conn: asyncpg.Connection, registry: Registry, **options: Any) -> list[str]:
    await tables.setup(conn)
    return [(await refreshing.refresh(conn, layout, **options)).action for layout in layouts(registry.models)]


def layout_of(registry: Registry, key: str) -> Layout:
    return next(layout for layout in layouts(registry.models) if layout.key == key)


@pytest.fixture
async def client(settings: Settings, rollup_url: str) -> AsyncIterator[httpx.AsyncClient]:
    fast = replace(settings, rollups=RollupSettings(poll_s=1))
    async with serving(fast, rollup_url) as client:
        yield client


async def graphql(client: httpx.AsyncClient, jwt: str, query: str) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query}, headers={"authorization": f"Bearer {jwt}"}
    )
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    assert "errors" not in payload, payload
    return payload


async def reload_catalog(client: httpx.AsyncClient) -> None:
    await client.app.state.cohort.rollups.load()  # type: ignore[attr-defined]


async def top_courses_sql(conn: asyncpg.Connection, partner: str) -> list[dict[str, Any]]:
    """The university admin's answer by hand: its rows only, groups of 5 learners or more."""
    rows = await conn.fetch(
        """
        select course_id, count(*) filter (where event_type = 'module_completed') as done
        from progress_events where partner_id = $1
        group by course_id having count(distinct learner_id) >= 5
        order by done desc, course_id limit 5
        """,
        partner,
    )
    return [{"courseId": row["course_id"], "modulesCompleted": row["done"]} for row in rows]


async def test_a_tenant_is_served_from_a_rollup_with_its_own_rows_and_new_rows_before_any_refresh(
    client: httpx.AsyncClient, conn: asyncpg.Connection, registry: Registry, mint: Mint
) -> None:
    await refresh_all(conn, registry)
    await reload_catalog(client)
    partners = [row[0] for row in await conn.fetch("select id from organizations where kind = 'university'")]
    partner, other = partners[0], partners[1]
    reader = mint(tenant=partner, roles=["university_admin"])

    payload = await graphql(client, reader, TOP_COURSES)
    want = await top_courses_sql(conn, partner)
    assert len(want) == 5 and payload["data"]["progressEvents"] == want
    route = payload["extensions"]["rollups"]["progressEvents"]
    # Suppression counts each course's learners: the compact rollup's bounds decide most
    # groups, the learner-level rollup counts the others exactly.
    assert route["rollup"] == "progress_events.by_course_month", route
    assert route["exactCountsFrom"] == "progress_events.learners_by_course_day", route

    # New rows for both universities, after the watermark: in the answer at once, the other
    # university's never.
    course = await conn.fetchval("select id from courses where partner_id = $1 order by id limit 1", partner)
    foreign = await conn.fetchval("select id from courses where partner_id = $1 order by id limit 1", other)
    await insert_events(conn, partner, course, learners=6, at=datetime.now(UTC))
    await insert_events(conn, other, foreign, learners=9, at=datetime.now(UTC))
    payload = await graphql(client, reader, TOP_COURSES)
    assert payload["data"]["progressEvents"] == await top_courses_sql(conn, partner)
    assert payload["extensions"]["rollups"]["progressEvents"]["rollup"] == route["rollup"]
    assert foreign not in {row["courseId"] for row in payload["data"]["progressEvents"]}

    # A joined member through a stored key: the course's title through course_id.
    payload = await graphql(client, reader, "{ progressEvents { course { title } count } }")
    assert payload["extensions"]["rollups"]["progressEvents"]["rollup"] == route["rollup"]
    titled = await conn.fetch(
        "select c.title, count(*) as n from progress_events e left join courses c on c.id = e.course_id"
        " where e.partner_id = $1 and c.partner_id = $1 group by 1"
        " having count(distinct e.learner_id) >= 5",
        partner,
    )
    got = {(row["course"]["title"], row["count"]) for row in payload["data"]["progressEvents"]}
    assert len(titled) >= 5 and got == {(row["title"], row["n"]) for row in titled}
    # Through a key no rollup stores: raw tables, and the reason says so.
    payload = await graphql(client, reader, "{ progressEvents { enrollment { status } count } }")
    missed = payload["extensions"]["rollups"]["progressEvents"]
    assert missed["rollup"] is None
    assert "the join to enrollments needs progress_events.enrollment_id" in missed["reason"]
    metrics = (await client.get("/metrics")).text
    assert 'cohort_rollup_answers_total{rollup="progress_events.by_course_month"} 3.0' in metrics
    assert 'cohort_rollup_answers_total{rollup="raw"} 1.0' in metrics
    # What an operator alerts on when the refresh worker stops: the age of the last refresh.
    ages = {
        line.split('"')[1]: float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("cohort_rollup_refresh_age_seconds{")
    }
    assert {key for key in ages if key.startswith("progress_events.")} == {
        f"progress_events.{name}" for name in registry.model("progress_events").rollups
    }
    assert all(0 <= age < 300 for age in ages.values()), ages


async def insert_events(
    conn: asyncpg.Connection,
    partner: str,
    course: int,
    learners: int,
    at: datetime,
    kind: str = "module_completed",
) -> list[int]:
    """`learners` new events of enrolled learners of `course` (ids past the current max)."""
    rows = await conn.fetch(
        "select e.id, e.learner_id, l.enterprise_id from enrollments e "
        "join learners l on l.id = e.learner_id "
        "where e.course_id = $1 order by e.id limit $2",
        course,
        learners,
    )
    module = await conn.fetchval("select min(id) from course_modules where course_id = $1", course)
    first = int(await conn.fetchval("select max(id) from progress_events")) + 1
    ids = list(range(first, first + len(rows)))
    await conn.executemany(
        "insert into progress_events (id, enrollment_id, learner_id, course_id, module_id, partner_id, "
        "enterprise_id, event_type, occurred_at, minutes_spent) "
        "values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 7)",
        [
            (i, r["id"], r["learner_id"], course, module, partner, r["enterprise_id"], kind, at)
            for i, r in zip(ids, rows, strict=True)
        ],
    )
    return ids


async def test_refresh_merges_new_and_late_rows_into_their_buckets_and_moves_the_watermark(
    conn: asyncpg.Connection, registry: Registry
) -> None:
    await refresh_all(conn, registry)
    layout = layout_of(registry, "progress_events.by_course_day")
    partner, course = await conn.fetchrow("select partner_id, id from courses order by id limit 1")
    late_day = datetime(2024, 3, 5, 10, tzinfo=UTC)
    ids = await insert_events(conn, partner, course, learners=3, at=late_day)
    ids += await insert_events(
        conn, partner, course, learners=2, at=late_day + timedelta(hours=1), kind="module_started"
    )
    done = await refreshing.refresh(conn, layout, rebuild_every_s=1e9)  # the merge alone, no recent rebuild
    assert done.action == "refreshed" and done.watermark == max(ids)
    table = await conn.fetchval(
        "select table_name from cohort_rollups.state "
        "where model = 'progress_events' and rollup = 'by_course_day'"
    )
    stored = await conn.fetch(
        f"select event_type, m_count, m_minutes_total from cohort_rollups.{table} "  # noqa: S608
        "where partner_id = $1 and course_id = $2 and occurred_at = $3 order by 1",
        partner,
        course,
        datetime(2024, 3, 5, tzinfo=UTC),
    )
    raw = await conn.fetch(
        "select event_type, count(*), sum(minutes_spent) from progress_events where partner_id = $1 "
        "and course_id = $2 and occurred_at >= $3 and occurred_at < $3 + interval '1 day' "
        "group by 1 order by 1",
        partner,
        course,
        datetime(2024, 3, 5, tzinfo=UTC),
    )
    assert [tuple(row) for row in stored] == [tuple(row) for row in raw]
    assert await refreshing.refresh(conn, layout, rebuild_every_s=1e9) == refreshing.Refreshed(
        layout.key,
        "unchanged",
        max(ids),
        0,
        pytest.approx(0, abs=5),  # type: ignore[arg-type]
    )


async def test_one_refresher_at_a_time(conn: asyncpg.Connection, rollup_url: str, registry: Registry) -> None:
    await refresh_all(conn, registry)
    layout = layout_of(registry, "progress_events.by_university_day")
    other = await asyncpg.connect(asyncpg_dsn(rollup_url))
    try:
        async with other.transaction():
            await other.execute("select pg_advisory_xact_lock($1)", refreshing._lock_key(layout))
            assert (await refreshing.refresh(conn, layout)).action == "busy"
    finally:
        await other.close()
    assert (await refreshing.refresh(conn, layout)).action in ("refreshed", "unchanged")


async def test_ingested_events_are_served_from_the_half_hour_rollup_in_a_half_hour_zone(
    client: httpx.AsyncClient, conn: asyncpg.Connection, registry: Registry, mint: Mint, rollup_url: str
) -> None:
    engine = create_async_engine(rollup_url)
    try:
        token = await token_for(engine, "ingest-uni")
    finally:
        await engine.dispose()
    now = datetime.now(UTC).replace(microsecond=0)
    batch = [event(f"e{i}", occurred_at=now - timedelta(minutes=17 * i), minutes_spent=i) for i in range(12)]
    assert (await post(client, token, batch, key="first")).json()["accepted"] == 12
    await refresh_all(conn, registry)
    last_seq = await conn.fetchval("select last_seq from cohort_ingest.state")
    watermark = await conn.fetchval(
        "select watermark from cohort_rollups.state "
        "where model = 'activity_events' and rollup = 'by_tenant_half_hour'"
    )
    assert watermark == last_seq
    later = [event(f"f{i}", occurred_at=now - timedelta(minutes=5 * i), minutes_spent=100) for i in range(3)]
    assert (await post(client, token, later, key="second")).json()["accepted"] == 3
    await reload_catalog(client)
    admin = mint()  # the platform: no small-group suppression, so the half-hour rollup serves it
    query = (
        '{ activityEvents(timezone: "Asia/Kolkata", orderBy: [{occurredAt: ASC}]) '
        "{ occurredAt { hour } count minutesSpent } }"
    )
    payload = await graphql(client, admin, query)
    assert (
        payload["extensions"]["rollups"]["activityEvents"]["rollup"] == "activity_events.by_tenant_half_hour"
    )
    rows = await conn.fetch(
        "select date_trunc('hour', timezone('Asia/Kolkata', occurred_at)), count(*), "
        "sum((data ->> 'minutes_spent')::bigint) from cohort_ingest.events group by 1 order by 1"
    )
    got = [(row["count"], row["minutesSpent"]) for row in payload["data"]["activityEvents"]]
    assert got == [(row[1], row[2]) for row in rows]  # the 3 events past the watermark included
    assert sum(count for count, _ in got) == 15


def test_status_reports_lag_and_size(rollup_url: str, conn: asyncpg.Connection) -> None:
    env = {"COHORT_ROLLUPS_DATABASE_URL": rollup_url, "DATABASE_URL": rollup_url}
    result = CliRunner().invoke(cli, ["rollups", "status", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    found = {row["rollup"]: row for row in orjson.loads(result.output)}
    assert found["progress_events.by_course_day"]["current"] == "yes"
    assert isinstance(found["progress_events.by_course_day"]["lag rows"], int)


@contextlib.asynccontextmanager
async def services(
    url: str, registry: Registry, *, learners: bool = True
) -> AsyncIterator[tuple[Executor, QueryService, QueryService]]:
    """An executor, a query service with the rollups (without the learner-level ones unless
    `learners`) and one without any."""
    engine = create_engine(asyncpg_url(url))
    executor = Executor(engine)
    try:
        catalog = RollupCatalog(executor.rows)
        await catalog.load()
        served = QueryService(registry, executor, rollups=catalog)
        if not learners:
            served.layouts = [layout for layout in served.layouts if "learner" not in layout.key]
        yield executor, served, QueryService(registry, executor)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("exact_from", ["learner rollups", "raw rows"])
@pytest.mark.parametrize("least", [2, 5, 40])
async def test_suppression_from_bounds_keeps_exactly_the_raw_groups(
    conn: asyncpg.Connection, rollup_url: str, registry: Registry, exact_from: str, least: int
) -> None:
    """Groups with `least` learners or more, decided by the compact rollup's bounds, the
    undecided ones counted exactly (from a learner-level rollup, or from the raw rows when
    none is declared): the same groups as on the raw tables, at thresholds where many groups
    are undecided."""
    await refresh_all(conn, registry)
    async with services(rollup_url, registry, learners=exact_from == "learner rollups") as (
        executor,
        served,
        raw,
    ):
        partner = await conn.fetchval("select id from organizations where kind = 'university' order by id")
        suppress = Condition("active_learners", "gte", (least,))
        checkers: list[str | None] = []
        for dimensions in (
            (DimensionRef("course_id"),),
            (DimensionRef("occurred_at", "month"),),
            (DimensionRef("course_id"), DimensionRef("event_type"), DimensionRef("occurred_at", "quarter")),
        ):
            query = SemanticQuery("progress_events", ("modules_completed", "count"), dimensions)
            effective = EffectiveQuery(query, (Condition("partner_id", "equals", (partner,)), suppress))
            compiled = served.compile(effective)
            assert compiled.route is not None and compiled.route["rollup"] is not None, compiled.route
            checkers.append(compiled.route.get("exactCountsFrom"))
            got = sorted(map(tuple, (await executor.run(compiled)).rows))
            want = sorted(map(tuple, (await executor.run(raw.compile(effective))).rows))
            assert got == want and want, (dimensions, least)
        # by event type, no learner-level rollup fits: the raw rows count the undecided groups
        expected = [True, True, False] if exact_from == "learner rollups" else [False] * 3
        assert [checker is not None for checker in checkers] == expected, checkers


@pytest.mark.parametrize("exact_from", ["learner rollups", "raw rows"])
async def test_distinct_counts_kept_per_row_serve_queries_grouped_like_the_rollup(
    conn: asyncpg.Connection, rollup_url: str, registry: Registry, exact_from: str
) -> None:
    """Weekly active learners from `platform_weekly` (one row a week, no learner kept): where
    a week's bounds meet, the stored count; a week merged since it was built, and the week
    with rows past the watermark, counted exactly. Grouped otherwise, it is not served."""
    await refresh_all(conn, registry)
    partner, course = await conn.fetchrow("select partner_id, id from courses order by id limit 1")
    await insert_events(conn, partner, course, learners=4, at=datetime(2025, 6, 4, 9, tzinfo=UTC))
    layout = layout_of(registry, "progress_events.platform_weekly")
    assert (await refreshing.refresh(conn, layout, rebuild_every_s=1e9)).action == "refreshed"  # a merge
    await insert_events(conn, partner, course, learners=3, at=datetime.now(UTC))  # past the watermark
    async with services(rollup_url, registry, learners=exact_from == "learner rollups") as (
        executor,
        served,
        raw,
    ):
        weekly = SemanticQuery(
            "progress_events", ("active_learners", "count"), (DimensionRef("occurred_at", "week"),)
        )
        compiled = served.compile(EffectiveQuery(weekly))
        assert compiled.route is not None and compiled.route["rollup"] == "progress_events.platform_weekly"
        assert ("exactCountsFrom" in compiled.route) == (exact_from == "learner rollups")
        got = sorted(map(tuple, (await executor.run(compiled)).rows))
        want = sorted(map(tuple, (await executor.run(raw.compile(EffectiveQuery(weekly)))).rows))
        assert got == want and len(want) > 50
        monthly = replace(weekly, dimensions=(DimensionRef("occurred_at", "month"),))
        route = served.compile(EffectiveQuery(monthly)).route
        assert route is not None and route["rollup"] != "progress_events.platform_weekly"


async def test_a_universitys_daily_active_learners_come_from_one_row_a_day(
    conn: asyncpg.Connection, rollup_url: str, registry: Registry
) -> None:
    """The access policy's row filter (an AND group) fixes the university: each day is one row
    of `university_daily`, whose distinct learners are served, suppression included."""
    await refresh_all(conn, registry)
    partner = await conn.fetchval("select id from organizations where kind = 'university' order by id")
    row_filter = And((Condition("partner_id", "equals", (partner,)),))
    daily = SemanticQuery(
        "progress_events",
        ("active_learners", "learners_completing"),
        (DimensionRef("occurred_at", "day"),),
        (Condition("occurred_at", "inDateRange", (date(2025, 1, 1), date(2025, 12, 31))),),
    )
    effective = EffectiveQuery(daily, (row_filter, Condition("active_learners", "gte", (5,))))
    async with services(rollup_url, registry, learners=False) as (executor, served, raw):
        compiled = served.compile(effective)
        assert compiled.route is not None and compiled.route["rollup"] == "progress_events.university_daily"
        got = sorted(map(tuple, (await executor.run(compiled)).rows))
        want = sorted(map(tuple, (await executor.run(raw.compile(effective))).rows))
        assert got == want and len(want) > 20


async def test_a_rollups_state_that_cannot_be_read_leaves_what_was_known(
    conn: asyncpg.Connection, rollup_url: str, registry: Registry
) -> None:
    """PostgreSQL down while the server polls the state: the last state read stays (queries
    keep their rollups), and a server that never read one serves from the raw tables."""
    await refresh_all(conn, registry)
    up = Executor(create_engine(asyncpg_url(rollup_url)))
    dead_url = make_url(asyncpg_url(rollup_url)).set(port=free_port()).render_as_string(hide_password=False)
    down = Executor(create_engine(dead_url, DatabaseTimeouts(connect_s=0.5, command_s=0.5, lookup_s=1)))
    reading = [up]
    catalog = RollupCatalog(lambda sql: reading[0].rows(sql))
    try:
        await catalog.load()
        known, generation = dict(catalog.states), catalog.generation
        assert "progress_events.by_course_day" in known and generation == 1
        reading[0] = down
        await catalog.load()  # no exception: a warning, and the state stays
        assert catalog.states == known and catalog.generation == generation

        never = RollupCatalog(down.rows)
        await never.load()
        assert never.states == {} and never.generation == 0
        query = EffectiveQuery(SemanticQuery("progress_events", ("count",), (DimensionRef("event_type"),)))
        route = QueryService(registry, up, rollups=never).compile(query).route
        assert route is not None and route["rollup"] is None and "not built yet" in route["reason"]
    finally:
        await up.engine.dispose()
        await down.engine.dispose()


def test_status_before_setup_says_not_built(database_url: str) -> None:
    """The session's database has no `cohort_rollups` schema."""
    env = {"COHORT_ROLLUPS_DATABASE_URL": database_url, "DATABASE_URL": database_url}
    result = CliRunner().invoke(cli, ["rollups", "status", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    rows = orjson.loads(result.output)
    assert rows and all(row["table"] == "not built" and row["current"] == "no" for row in rows)
