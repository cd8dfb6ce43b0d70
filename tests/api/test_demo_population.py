"""The demo warehouse that PostgreSQL generates (the `population` scale), at a tiny size.

The same path as `cohort seed --scale population`, with the sizes of `tiny`: consistent
by the rules the Python generator's rows obey (tests/api/test_demo_data.py) and by
hand-written SQL of its own, deterministic whatever the chunk size, and loud on failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.demo.copy_pipe import ColumnMismatchError, check_columns, pipe
from api.demo.load import seed_demo
from api.demo.scales import Scale, get_scale
from api.demo.tables import TABLES
from tests.api.test_demo_data import SHAPE, VIOLATIONS, database_counts, structure
from tests.conftest import TEST_SEED
from tests.databases import scratch_database

pytestmark = pytest.mark.integration

SMALL = Scale(
    "small-postgres",
    universities=3,
    enterprises=3,
    instructors_per_university=4,
    courses=30,
    learners=1_500,
    enrollments=4_000,
    generator="postgres",
)
CHUNK = 997  # enrollments a chunk: several chunks, none of them even

# Each query counts the rows that break one rule; all must count zero.
OWN_VIOLATIONS = {
    "an event's course, learner and module are those tables' rows": """
        select count(*) from progress_events p
        left join courses c on c.id = p.course_id
        left join learners l on l.id = p.learner_id
        left join course_modules m on m.id = p.module_id
        where c.id is null or l.id is null or m.id is null
    """,
    "an event's partner is its course's university": """
        select count(*) from progress_events p
        join courses c on c.id = p.course_id join organizations o on o.id = p.partner_id
        where p.partner_id <> c.partner_id or o.kind <> 'university'
    """,
    "an event's enterprise is its learner's (or none)": """
        select count(*) from progress_events p join learners l on l.id = p.learner_id
        where p.enterprise_id is distinct from l.enterprise_id
    """,
    "an event's course and learner are its enrollment's": """
        select count(*) from progress_events p join enrollments e on e.id = p.enrollment_id
        where p.course_id <> e.course_id or p.learner_id <> e.learner_id
    """,
    "events fall in 2024-2025 UTC": """
        select count(*) from progress_events
        where occurred_at < '2024-01-01T00:00:00Z' or occurred_at >= '2026-01-01T00:00:00Z'
    """,
    "an enrollment's modules are started in order": """
        select count(*) from (
            select m.position, lag(m.position) over w as before,
                   p.occurred_at, lag(p.occurred_at) over w as earlier
            from progress_events p join course_modules m on m.id = p.module_id
            where p.event_type = 'module_started'
            window w as (partition by p.enrollment_id order by p.id)
        ) s
        where (s.before is null and s.position <> 1)
           or (s.before is not null and (s.position <> s.before + 1 or s.occurred_at <= s.earlier))
    """,
    "a learner enrolls in a course once": """
        select count(*) from (
            select 1 from enrollments group by learner_id, course_id having count(*) > 1
        ) d
    """,
}
IDS = """
    select count(*) = count(distinct id) and coalesce(min(id), 1) = 1 and coalesce(max(id), 0) = count(*)
    from {table}
"""
FINGERPRINT = "select md5(string_agg(t::text, E'\\n' order by t::text)) from {table} as t"


@dataclass(frozen=True)
class Seeded:
    engine: AsyncEngine
    counts: dict[str, int]  # what seed_demo said it loaded


@pytest.fixture(scope="module")
async def seeded(database_url: str) -> AsyncIterator[Seeded]:
    """A database of its own holding SMALL at the tests' seed, loaded chunk by chunk."""
    async with scratch_database(database_url, "demo_population") as url:
        engine = create_async_engine(url)
        counts = await seed_demo(engine, SMALL, TEST_SEED, progress=True, chunk_enrollments=CHUNK)
        yield Seeded(engine, counts)
        await engine.dispose()


@pytest.fixture
def small_engine(seeded: Seeded) -> AsyncEngine:
    return seeded.engine


async def scalar(engine: AsyncEngine, query: str) -> Any:
    async with engine.connect() as conn:
        return await conn.scalar(text(query))


async def fingerprints(engine: AsyncEngine) -> dict[str, str]:
    return {table: await scalar(engine, FINGERPRINT.format(table=table)) for table in TABLES}


@pytest.mark.parametrize("rule", [*VIOLATIONS, *OWN_VIOLATIONS])
async def test_generated_warehouse_is_consistent(small_engine: AsyncEngine, rule: str) -> None:
    query = VIOLATIONS.get(rule) or OWN_VIOLATIONS[rule]
    assert await scalar(small_engine, query) == 0, rule


@pytest.mark.parametrize("table", TABLES[TABLES.index("learners") :])
async def test_generated_ids_are_one_to_the_count(small_engine: AsyncEngine, table: str) -> None:
    assert await scalar(small_engine, IDS.format(table=table)) is True


async def test_counts_are_the_planned_ones(seeded: Seeded) -> None:
    counts = await database_counts(seeded.engine)
    assert counts == seeded.counts
    assert counts["organizations"] == SMALL.universities + SMALL.enterprises
    assert counts["courses"] == SMALL.courses
    assert counts["learners"] == SMALL.learners
    assert 0.95 * SMALL.enrollments < counts["enrollments"] < 1.05 * SMALL.enrollments
    completed_modules = await scalar(
        seeded.engine,
        """
        select sum(e.progress * m.n / 100)
        from enrollments e join (select course_id, count(*) as n from course_modules group by 1) m
          on m.course_id = e.course_id
        """,
    )
    completions = "select count(*) from progress_events where event_type = 'module_completed'"
    assert await scalar(seeded.engine, completions) == round(completed_modules)
    assert 5 * counts["enrollments"] < counts["progress_events"] < 12 * counts["enrollments"]


async def test_it_looks_like_the_python_generators_platform(small_engine: AsyncEngine) -> None:
    """The bounds of tests/api/test_demo_data.py."""
    shape = {name: await scalar(small_engine, query) for name, query in SHAPE.items()}
    assert 0.3 < shape["open_learner_share"] < 0.5
    assert shape["unicode_names"] > 0 and shape["apostrophe_names"] > 0
    assert 0.2 < shape["feedback_share"] < 0.4
    assert shape["statuses"] == 3
    assert shape["top_to_median_course"] > 2.5, "some courses are far more popular than most"
    assert shape["skill_gain"] > 5, "skill scores rise as learners progress"


async def test_activity_spreads_over_two_years_and_grows(small_engine: AsyncEngine) -> None:
    halves = await scalar(
        small_engine,
        """
        select array_agg(n order by half) from (
            select date_trunc('year', occurred_at at time zone 'UTC')
                   + interval '6 months' * (extract(month from occurred_at at time zone 'UTC') > 6)::int
                   as half, count(*) as n
            from progress_events group by 1
        ) h
        """,
    )
    assert isinstance(halves, list) and len(halves) == 4, halves
    assert halves[0] < halves[1] < halves[3] and halves[0] * 2 < halves[3], halves
    started, completed, minutes = await scalar(
        small_engine,
        """
        select array[count(*) filter (where event_type = 'module_started'),
                     count(*) filter (where event_type = 'module_completed'),
                     round(avg(minutes_spent) filter (where event_type = 'module_completed'))]
        from progress_events
        """,
    )
    assert 0.6 < completed / started < 0.95, "most started modules are completed"
    assert 40 < minutes < 150, "a module takes about its estimate"


async def test_same_seed_same_rows_whatever_the_chunks(small_engine: AsyncEngine, database_url: str) -> None:
    expected, created = await fingerprints(small_engine), await structure(small_engine)
    async with scratch_database(database_url, "demo_population_again") as url:
        engine = create_async_engine(url)
        try:
            await seed_demo(engine, SMALL, TEST_SEED)  # one chunk
            assert await fingerprints(engine) == expected
            await seed_demo(engine, SMALL, TEST_SEED + 1, chunk_enrollments=CHUNK)
            other = await fingerprints(engine)
            assert await structure(engine) == created, "keys, indexes and foreign keys are restored"
        finally:
            await engine.dispose()
    changed = {table for table in TABLES if other[table] != expected[table]}
    assert changed >= {"learners", "enrollments", "progress_events", "feedback", "skill_scores"}


async def test_keys_and_indexes_are_back(small_engine: AsyncEngine) -> None:
    lines = await structure(small_engine)
    assert "progress_events PRIMARY KEY (id)" in lines
    assert sum("ON public.progress_events " in line for line in lines) == 6, "the key's and five others"
    assert any("progress_events_time_idx ON public.progress_events" in line for line in lines)
    assert sum(" PRIMARY KEY " in line for line in lines) == len(TABLES)


def test_the_population_scale_is_generated_by_postgres() -> None:
    assert get_scale("population").generator == "postgres"
    assert {get_scale(name).generator for name in ("tiny", "default", "large")} == {"python"}


# --- the pipe ------------------------------------------------------------------------------


@pytest.fixture
async def connections(database_url: str) -> AsyncIterator[tuple[asyncpg.Connection, asyncpg.Connection]]:
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    source, target = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        await target.execute("create temp table piped (id bigint, at timestamptz)")
        yield source, target
    finally:
        await source.close()
        await target.close()


async def test_the_pipe_copies_rows_frozen(
    connections: tuple[asyncpg.Connection, asyncpg.Connection],
) -> None:
    source, target = connections
    query = "select g as id, now() + g * interval '1 hour' as at from generate_series(1::bigint, $1) g"
    async with target.transaction():
        await target.execute("truncate piped")
        assert await pipe(source, query, (50_000,), target, "piped", ("id", "at")) == 50_000
        assert await target.fetchval("select sum(id) from piped") == 50_000 * 50_001 // 2


async def test_an_error_in_the_query_ends_both_sides(
    connections: tuple[asyncpg.Connection, asyncpg.Connection],
) -> None:
    source, target = connections
    query = (
        "select g as id, now() + 1 / (g - 40000) * interval '1 s' as at from generate_series(1, $1::bigint) g"
    )
    with pytest.raises(asyncpg.DivisionByZeroError):
        async with target.transaction():
            await target.execute("truncate piped")
            await pipe(source, query, (50_000,), target, "piped", ("id", "at"))
    assert await target.fetchval("select count(*) from piped") == 0
    assert await source.fetchval("select 1") == 1, "the source is usable again"


async def test_an_error_on_the_target_ends_both_sides(
    connections: tuple[asyncpg.Connection, asyncpg.Connection],
) -> None:
    source, target = connections
    await target.execute("alter table piped add check (id < 40000)")
    query = "select g as id, now() as at from generate_series(1::bigint, $1) g"
    with pytest.raises(asyncpg.CheckViolationError):
        async with target.transaction():
            await target.execute("truncate piped")
            await pipe(source, query, (2_000_000,), target, "piped", ("id", "at"))
    assert await target.fetchval("select count(*) from piped") == 0


async def test_columns_of_another_type_are_refused(
    connections: tuple[asyncpg.Connection, asyncpg.Connection],
) -> None:
    """Binary COPY would take bigint seconds for a timestamp (both are eight bytes)."""
    source, target = connections
    await check_columns(source, "select 1::bigint as id, now() as at", target, "piped", ("id", "at"))
    with pytest.raises(ColumnMismatchError, match="piped"):
        await check_columns(source, "select 1::bigint as id, 5::bigint as at", target, "piped", ("id", "at"))
    with pytest.raises(ColumnMismatchError):
        await check_columns(source, "select now() as at, 1::bigint as id", target, "piped", ("id", "at"))
