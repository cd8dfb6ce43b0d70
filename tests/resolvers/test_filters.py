"""Every filter operator against an oracle; hostile and odd values are plain data."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schema.query import And, Condition, DimensionRef, EffectiveQuery, Filter, Or, OrderBy, SemanticQuery
from schema.registry import Registry
from tests.resolvers.oracle import assert_same, oracle, run

pytestmark = pytest.mark.integration


async def _count(
    registry: Registry, engine: AsyncEngine, model: str, *filters: Filter, measure: str = "count"
) -> int:
    result = await run(registry, engine, SemanticQuery(model, measures=(measure,), filters=filters))
    return int(result.rows[0][0])


async def _scalar(engine: AsyncEngine, sql: str, **params: object) -> int:
    return int((await oracle(engine, sql, **params))[0][0])


CASES = [
    (Condition("status", "equals", ("active",)), "status = 'active'"),
    (Condition("status", "notEquals", ("active",)), "status <> 'active'"),
    (Condition("status", "in", ("active", "dropped")), "status in ('active', 'dropped')"),
    (Condition("status", "notIn", ("active", "dropped")), "status not in ('active', 'dropped')"),
    (Condition("progress", "gt", (50,)), "progress > 50"),
    (Condition("progress", "gte", (50.0,)), "progress >= 50"),
    (Condition("progress", "lt", (12.5,)), "progress < 12.5"),
    (Condition("progress", "lte", (0,)), "progress <= 0"),
    (Condition("grade", "set"), "grade is not null"),
    (Condition("grade", "notSet"), "grade is null"),
    (Condition("is_completed", "equals", (True,)), "completed_at is not null"),
    (Condition("status", "startsWith", ("ACT",)), "status ilike 'act%'"),
    (Condition("status", "endsWith", ("ped",)), "status ilike '%ped'"),
    (Condition("status", "contains", ("omp", "rop")), "status ilike '%omp%' or status ilike '%rop%'"),
    (
        Or(
            (
                And((Condition("status", "equals", ("completed",)), Condition("grade", "gte", (90,)))),
                Condition("progress", "lt", (10,)),
            )
        ),
        "(status = 'completed' and grade >= 90) or progress < 10",
    ),
]


@pytest.mark.parametrize(("condition", "where"), CASES, ids=[c[1] for c in CASES])
async def test_operator_matches_oracle(
    registry: Registry, engine: AsyncEngine, condition: Filter, where: str
) -> None:
    expected = await _scalar(engine, f"select count(*) from enrollments where {where}")  # noqa: S608 (test's own SQL)
    assert await _count(registry, engine, "enrollments", condition) == expected


async def test_not_equals_keeps_rows_where_the_member_is_null(
    registry: Registry, engine: AsyncEngine
) -> None:
    expected = await _scalar(
        engine,
        "select count(*) from learners l left join organizations o on o.id = l.enterprise_id "
        "where o.name is distinct from (select min(name) from organizations where kind = 'enterprise')",
    )
    name = (await oracle(engine, "select min(name) from organizations where kind = 'enterprise'"))[0][0]
    assert (
        await _count(registry, engine, "learners", Condition("enterprise.name", "notEquals", (name,)))
        == expected
    )


HOSTILE = [
    "'; drop table enrollments; --",
    "active' or '1'='1",
    "\\",
    "%",
    "_",
    "Zoë Müller",
    "李",
    "O'Brien",
    "🙂 emoji",
    "e\u0301",  # e + combining accent
    "\u202eright-to-left",
]


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_and_unicode_values_are_data(
    registry: Registry, engine: AsyncEngine, value: str
) -> None:
    assert await _count(registry, engine, "enrollments", Condition("status", "equals", (value,))) == 0
    names = [row[0] for row in await oracle(engine, "select full_name from learners")]
    expected = sum(value.lower() in name.lower() for name in names)
    assert (
        await _count(registry, engine, "learners", Condition("full_name", "contains", (value,))) == expected
    )
    starts = sum(name.lower().startswith(value.lower()) for name in names)
    assert (
        await _count(registry, engine, "learners", Condition("full_name", "startsWith", (value,))) == starts
    )
    assert await _scalar(engine, "select count(*) from enrollments") > 0  # still there


async def test_unicode_names_match_exactly(registry: Registry, engine: AsyncEngine) -> None:
    rows = await oracle(
        engine, "select full_name, count(*) from learners where full_name ~ '[^ -~]' group by 1 limit 5"
    )
    assert rows, "the demo data should hold non-ASCII names"
    for name, count in rows:
        assert await _count(registry, engine, "learners", Condition("full_name", "equals", (name,))) == count


async def test_segments_and_filters_combine(registry: Registry, engine: AsyncEngine) -> None:
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "enrollments",
            measures=("count",),
            dimensions=(DimensionRef("course.subject"),),
            segments=("sponsored", "course.paid"),
            filters=(Condition("status", "notEquals", ("dropped",)),),
        ),
    )
    expected = await oracle(
        engine,
        """
        select c.subject, count(*) from enrollments e join courses c on c.id = e.course_id
        where e.enterprise_id is not null and c.is_paid and e.status <> 'dropped' group by 1
        """,
    )
    assert_same(result.rows, expected, dims=1)


async def test_mandatory_filters_cannot_be_widened_by_an_or(registry: Registry, engine: AsyncEngine) -> None:
    partner = (await oracle(engine, "select partner_id from enrollments group by 1 order by 1 limit 1"))[0][0]
    client = SemanticQuery(
        "enrollments",
        measures=("count",),
        dimensions=(DimensionRef("status"),),
        filters=(Or((Condition("status", "set"), Condition("status", "notSet"))),),
    )
    result = await run(
        registry, engine, EffectiveQuery(client).restrict(Condition("partner_id", "equals", (partner,)))
    )
    expected = await oracle(
        engine, "select status, count(*) from enrollments where partner_id = :p group by 1", p=partner
    )
    assert_same(result.rows, expected, dims=1)


async def test_order_limit_and_offset_page_through_all_rows(registry: Registry, engine: AsyncEngine) -> None:
    def query(limit: int, offset: int) -> SemanticQuery:
        return SemanticQuery(
            "enrollments",
            measures=("count",),
            dimensions=(DimensionRef("course.title"),),
            order=(OrderBy("count", descending=True),),
            limit=limit,
            offset=offset,
        )

    everything = [tuple(row) for row in (await run(registry, engine, query(50_000, 0))).rows]
    pages = []
    for offset in range(0, len(everything), 7):
        pages += [tuple(row) for row in (await run(registry, engine, query(7, offset))).rows]
    assert pages == everything
    counts = [row[1] for row in everything]
    assert counts == sorted(counts, reverse=True)
    expected = await oracle(
        engine, "select c.title, count(*) from enrollments e join courses c on c.id = e.course_id group by 1"
    )
    assert_same(everything, expected, dims=1)
