"""The demo warehouse: deterministic rows, and a loaded database that is consistent."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select, table, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.demo.generate import COLUMNS, TABLES, generate, progress_percent
from api.demo.load import is_seeded, seed_demo
from api.demo.scales import get_scale
from tests.conftest import TEST_SCALE, TEST_SEED
from tests.databases import scratch_database

# sha256 over the per-table digests of ("tiny", seed 7). It only changes when the
# generator changes on purpose: then update it here, in the same commit.
TINY_SEED_7_DIGEST = "e6d6e8fa14304a8f6212872635645e34779a73960325c7636b348e3c7c3274b4"


def table_digests(seed: int, chunk_size: int = 50_000) -> dict[str, str]:
    hashes = {name: hashlib.sha256() for name in TABLES}
    for name, rows in generate(get_scale(TEST_SCALE), seed, chunk_size):
        for row in rows:
            hashes[name].update(repr(row).encode() + b"\n")
    return {name: digest.hexdigest() for name, digest in hashes.items()}


def overall_digest(digests: dict[str, str]) -> str:
    return hashlib.sha256("".join(digests[name] for name in TABLES).encode()).hexdigest()


def generated_counts(seed: int) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for name, rows in generate(get_scale(TEST_SCALE), seed):
        counts[name] += len(rows)
    return {name: counts[name] for name in TABLES}


async def database_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            name: int(await conn.scalar(select(func.count()).select_from(table(name))) or 0)
            for name in TABLES
        }


# --- the generator ---------------------------------------------------------------------


def test_same_scale_and_seed_give_identical_rows() -> None:
    assert table_digests(TEST_SEED) == table_digests(TEST_SEED)


def test_rows_match_the_recorded_digest() -> None:
    """Same rows on every machine and Python: no hash(), no clock, no libm in the draws."""
    assert overall_digest(table_digests(TEST_SEED)) == TINY_SEED_7_DIGEST


def test_another_seed_gives_other_rows() -> None:
    first, second = table_digests(TEST_SEED), table_digests(TEST_SEED + 1)
    changed = {name for name in TABLES if first[name] != second[name]}
    assert changed >= {"learners", "enrollments", "progress_events", "feedback", "skill_scores"}


def test_rows_do_not_depend_on_the_chunk_size() -> None:
    assert table_digests(TEST_SEED, chunk_size=997) == table_digests(TEST_SEED)


def test_rows_have_the_shape_and_types_asyncpg_copies() -> None:
    for name, rows in generate(get_scale(TEST_SCALE), TEST_SEED, chunk_size=5_000):
        for row in rows:
            assert len(row) == len(COLUMNS[name]), name
            for value in row:
                assert not isinstance(value, float), (name, row)
                if isinstance(value, datetime):
                    assert value.tzinfo is UTC, (name, row)


def test_progress_rounding_matches_a_fraction_rounded_half_up() -> None:
    assert progress_percent(1, 8) == Decimal("12.50")
    assert progress_percent(2, 3) == Decimal("66.67")
    assert progress_percent(1, 3) == Decimal("33.33")
    assert progress_percent(5, 5) == Decimal("100.00")


def test_unknown_scale_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="tiny, default, large"):
        get_scale("huge")


# --- the loaded database (tiny, seed 7, loaded once per session) -----------------------

# Each query counts the rows that break one rule; all must count zero.
VIOLATIONS = {
    "organization ids are slugs": """
        select count(*) from organizations where id !~ '^[a-z0-9]+(-[a-z0-9]+)*$'
    """,
    "a course's instructor teaches at the course's university": """
        select count(*) from courses c join instructors i on i.id = c.instructor_id
        join organizations o on o.id = c.partner_id
        where i.partner_id <> c.partner_id or o.kind <> 'university'
    """,
    "free courses cost nothing, paid ones something": """
        select count(*) from courses where is_paid <> (price > 0)
    """,
    "modules are numbered 1..n, 4 to 12 per course": """
        select count(*) from (
            select course_id, count(*) as n, min(position) as lo, max(position) as hi
            from course_modules group by course_id
        ) m where lo <> 1 or hi <> n or n not between 4 and 12
    """,
    "learners' enterprises are enterprises": """
        select count(*) from learners l join organizations o on o.id = l.enterprise_id
        where o.kind <> 'enterprise'
    """,
    "an enrollment's partner is its course's": """
        select count(*) from enrollments e join courses c on c.id = e.course_id
        where e.partner_id <> c.partner_id
    """,
    "an enrollment's enterprise is its learner's": """
        select count(*) from enrollments e join learners l on l.id = e.learner_id
        where e.enterprise_id is distinct from l.enterprise_id
    """,
    "enrollments fall in 2024-2025 UTC, after sign-up and launch": """
        select count(*) from enrollments e
        join learners l on l.id = e.learner_id join courses c on c.id = e.course_id
        where e.enrolled_at < '2024-01-01T00:00:00Z' or e.enrolled_at >= '2026-01-01T00:00:00Z'
           or e.enrolled_at < l.signed_up_at or e.enrolled_at < c.launched_at
    """,
    "events carry their enrollment's tenant columns": """
        select count(*) from progress_events p left join enrollments e on e.id = p.enrollment_id
        where e.id is null or p.learner_id <> e.learner_id or p.course_id <> e.course_id
           or p.partner_id <> e.partner_id or p.enterprise_id is distinct from e.enterprise_id
    """,
    "an event's module belongs to the event's course": """
        select count(*) from progress_events p left join course_modules m on m.id = p.module_id
        where m.course_id is distinct from p.course_id
    """,
    "events happen after enrolling, take minutes, end by updated_at": """
        select count(*) from progress_events p join enrollments e on e.id = p.enrollment_id
        where p.occurred_at <= e.enrolled_at or p.occurred_at > e.updated_at
           or p.minutes_spent <= 0
    """,
    "a module is started, and completed, at most once per enrollment": """
        select count(*) from (
            select 1 from progress_events
            group by enrollment_id, module_id, event_type having count(*) > 1
        ) d
    """,
    "a module is completed after it was started": """
        select count(*) from progress_events done
        left join progress_events start
          on start.enrollment_id = done.enrollment_id and start.module_id = done.module_id
         and start.event_type = 'module_started'
        where done.event_type = 'module_completed'
          and (start.id is null or start.occurred_at >= done.occurred_at)
    """,
    "progress is the share of the course's modules completed": """
        select count(*) from enrollments e
        join (select course_id, count(*) as n from course_modules group by course_id) m
          on m.course_id = e.course_id
        left join (
            select enrollment_id, count(*) as done from progress_events
            where event_type = 'module_completed' group by enrollment_id
        ) d on d.enrollment_id = e.id
        where e.progress <> round(100.0 * coalesce(d.done, 0) / m.n, 2)
    """,
    "completed iff completed_at iff progress 100": """
        select count(*) from enrollments
        where (status = 'completed') <> (completed_at is not null)
           or (status = 'completed') <> (progress = 100)
    """,
    "a grade exactly when completed": """
        select count(*) from enrollments where (grade is not null) <> (status = 'completed')
    """,
    "completed_at and updated_at follow the events": """
        select count(*) from enrollments e
        left join (
            select enrollment_id, max(occurred_at) as last_event,
                   max(occurred_at) filter (where event_type = 'module_completed') as last_done
            from progress_events group by enrollment_id
        ) p on p.enrollment_id = e.id
        where e.updated_at <> greatest(e.enrolled_at, p.last_event)
           or (e.status = 'completed' and e.completed_at <> p.last_done)
    """,
    "submissions carry their enrollment's tenant columns and course": """
        select count(*) from assessment_submissions s
        join enrollments e on e.id = s.enrollment_id join assessments a on a.id = s.assessment_id
        where s.learner_id <> e.learner_id or s.course_id <> e.course_id
           or s.partner_id <> e.partner_id or s.enterprise_id is distinct from e.enterprise_id
           or a.course_id <> e.course_id or a.partner_id <> e.partner_id
    """,
    "submissions are scored, passed at 60, after enrolling": """
        select count(*) from assessment_submissions s
        join enrollments e on e.id = s.enrollment_id join assessments a on a.id = s.assessment_id
        where s.score not between 0 and a.max_score or s.passed <> (s.score >= 60)
           or s.submitted_at <= e.enrolled_at
    """,
    "an assessment's module belongs to its course": """
        select count(*) from assessments a join course_modules m on m.id = a.module_id
        where m.course_id <> a.course_id
    """,
    "feedback carries its enrollment's tenant columns, rating 1-5, nps 0-10": """
        select count(*) from feedback f join enrollments e on e.id = f.enrollment_id
        where f.learner_id <> e.learner_id or f.course_id <> e.course_id
           or f.partner_id <> e.partner_id or f.enterprise_id is distinct from e.enterprise_id
           or f.rating not between 1 and 5 or f.nps not between 0 and 10
           or f.submitted_at <= e.enrolled_at
    """,
    "skill scores: course's partner, learner's enterprise, a skill of the course": """
        select count(*) from skill_scores s
        join courses c on c.id = s.course_id join learners l on l.id = s.learner_id
        left join course_skills cs on cs.course_id = s.course_id and cs.skill_id = s.skill_id
        where s.partner_id <> c.partner_id or s.enterprise_id is distinct from l.enterprise_id
           or cs.skill_id is null or s.score not between 0 and 100
    """,
    "skill scores belong to an enrollment of the learner in the course": """
        select count(*) from skill_scores s
        where not exists (
            select from enrollments e
            where e.learner_id = s.learner_id and e.course_id = s.course_id
              and e.enrolled_at < s.assessed_at
        )
    """,
}


@pytest.mark.integration
@pytest.mark.parametrize("rule", list(VIOLATIONS))
async def test_loaded_warehouse_is_consistent(engine: AsyncEngine, rule: str) -> None:
    async with engine.connect() as conn:
        assert await conn.scalar(text(VIOLATIONS[rule])) == 0, rule


@pytest.mark.integration
async def test_loaded_counts_match_the_generator(engine: AsyncEngine) -> None:
    assert await database_counts(engine) == generated_counts(TEST_SEED)


SHAPE = {
    "open_learner_share": "select avg((enterprise_id is null)::int) from learners",
    "unicode_names": "select count(*) from learners where full_name ~ '[^\\x01-\\x7f]'",
    "apostrophe_names": "select count(*) from learners where full_name like '%''%'",
    "feedback_share": """
        select count(distinct enrollment_id)::float / (select count(*) from enrollments)
        from feedback
    """,
    "statuses": "select count(distinct status) from enrollments",
    "top_to_median_course": """
        select max(n)::float / percentile_cont(0.5) within group (order by n)
        from (select count(*) as n from enrollments group by course_id) c
    """,
    "skill_gain": """
        select avg(scores[cardinality(scores)] - scores[1]) from (
            select array_agg(score order by assessed_at) as scores from skill_scores
            group by learner_id, skill_id, course_id having count(*) > 1
        ) s
    """,
}


@pytest.mark.integration
async def test_loaded_data_looks_like_a_real_platform(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        shape = {name: await conn.scalar(text(query)) for name, query in SHAPE.items()}
    assert 0.3 < shape["open_learner_share"] < 0.5
    assert shape["unicode_names"] > 0 and shape["apostrophe_names"] > 0
    assert 0.2 < shape["feedback_share"] < 0.4
    assert shape["statuses"] == 3
    assert shape["top_to_median_course"] > 2.5, "some courses are far more popular than most"
    assert shape["skill_gain"] > 5, "skill scores rise as learners progress"


@pytest.mark.integration
async def test_generated_columns_are_the_tables_columns(engine: AsyncEngine) -> None:
    query = text("""
        select table_name, array_agg(column_name::text order by ordinal_position)
        from information_schema.columns
        where table_schema = current_schema() and table_name = any(:tables)
        group by table_name
    """)
    async with engine.connect() as conn:
        actual = dict((await conn.execute(query, {"tables": list(TABLES)})).all())
    assert actual == {name: list(columns) for name, columns in COLUMNS.items()}


@pytest.mark.integration
async def test_progress_rounding_agrees_with_postgres(engine: AsyncEngine) -> None:
    query = text("""
        select done, n, round(100.0 * done / n, 2)
        from generate_series(4, 12) as n, generate_series(0, 12) as done where done <= n
    """)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    assert rows and all(progress_percent(done, n) == rounded for done, n, rounded in rows)


# --- seed_demo itself, on a database of its own ----------------------------------------

STRUCTURE = text("""
    select pg_get_indexdef(indexrelid) from pg_index
    where indrelid::regclass::text = any(:tables)
    union all
    select conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) from pg_constraint
    where conrelid::regclass::text = any(:tables)
    order by 1
""")


@pytest.fixture(scope="module")
async def scratch_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An empty database next to the session's."""
    async with scratch_database(database_url, "demo_load") as url:
        engine = create_async_engine(url)
        yield engine
        await engine.dispose()


async def structure(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.scalars(STRUCTURE, {"tables": list(TABLES)})).all())


@pytest.mark.integration
async def test_seed_demo_creates_its_tables_then_is_idempotent_and_keeps_the_schema(
    scratch_engine: AsyncEngine,
) -> None:
    assert await structure(scratch_engine) == [], "an empty database: the demo brings its own tables"
    assert not await is_seeded(scratch_engine)
    expected = generated_counts(TEST_SEED)

    first = await seed_demo(scratch_engine, scale=TEST_SCALE, seed=TEST_SEED)
    created = await structure(scratch_engine)
    second = await seed_demo(scratch_engine, scale=TEST_SCALE, seed=TEST_SEED, progress=True)

    assert first == second == expected
    assert await database_counts(scratch_engine) == expected
    assert await is_seeded(scratch_engine)
    assert any("enrollments_partner_idx" in line for line in created)
    assert await structure(scratch_engine) == created, "indexes and constraints are restored"


@pytest.mark.integration
async def test_seed_demo_outlasts_a_short_statement_timeout(scratch_engine: AsyncEngine) -> None:
    """The app's engines cancel slow statements; building indexes is slow on purpose."""
    hasty = create_async_engine(
        scratch_engine.url, connect_args={"server_settings": {"statement_timeout": "20"}}
    )
    try:
        counts = await seed_demo(hasty, scale=TEST_SCALE, seed=TEST_SEED)
    finally:
        await hasty.dispose()
    assert counts == generated_counts(TEST_SEED)


@pytest.mark.integration
async def test_seed_demo_rejects_an_unknown_scale_before_touching_data(
    scratch_engine: AsyncEngine,
) -> None:
    before = await database_counts(scratch_engine)
    with pytest.raises(ValueError, match="known scales: tiny, default, large"):
        await seed_demo(scratch_engine, scale="enormous")
    assert await database_counts(scratch_engine) == before
