"""Lists of filter values are one array parameter each: the statement's size and the work
to build it do not grow with the number of values, and the answers stay those of the
plain SQL."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from resolvers.compiler import compile_plan
from resolvers.planner import plan
from schema.query import Condition, EffectiveQuery, Or, SemanticQuery
from schema.registry import Registry
from tests.resolvers.oracle import oracle, run

pytestmark = pytest.mark.integration

MANY = tuple(f"value-{i}" for i in range(999))


def test_a_thousand_values_are_one_parameter(registry: Registry) -> None:
    filters = (
        Condition("status", "in", ("active", *MANY)),
        Condition("status", "notIn", MANY),
        Or(tuple(Condition("learner.full_name", op, MANY) for op in ("contains", "startsWith", "endsWith"))),
        Condition("progress", "in", tuple(float(i) for i in range(1_000))),
    )
    query = EffectiveQuery(SemanticQuery("enrollments", measures=("count",), filters=filters))
    compiled = compile_plan(plan(registry, query))
    assert len(compiled.params) == 6 + 1  # six lists and the limit
    assert len(compiled.sql) < 1_500, compiled.sql
    assert "ANY (" in compiled.sql and "!= ALL (" in compiled.sql


async def test_lists_answer_as_plain_sql(registry: Registry, engine: AsyncEngine) -> None:
    statuses = ("active", "dropped", "nope", "o'b", "100%")
    cases = [
        (Condition("status", "in", statuses), "status in ('active', 'dropped')"),
        (Condition("status", "notIn", statuses), "status not in ('active', 'dropped') or status is null"),
        (Condition("progress", "in", (0.0, 100.0, 12.5)), "progress in (0, 100, 12.5)"),
        (Condition("progress", "in", (100, 12.5)), "progress in (100, 12.5)"),
        (Condition("grade", "notIn", (0, 100)), "grade not in (0, 100) or grade is null"),
        (
            Condition("status", "contains", ("omp", "rop", "%")),
            "status ilike '%omp%' or status ilike '%rop%'",
        ),
        (Condition("status", "startsWith", ("ACT", "_")), "status ilike 'act%'"),
        (Condition("status", "endsWith", ("ped", "\\")), "status ilike '%ped'"),
    ]
    for condition, where in cases:
        result = await run(
            registry, engine, SemanticQuery("enrollments", measures=("count",), filters=(condition,))
        )
        ((expected,),) = await oracle(engine, f"select count(*) from enrollments where {where}")  # noqa: S608
        assert result.rows[0][0] == expected, (condition, where)
        assert expected > 0 or condition.op == "notIn"


async def test_time_lists_naive_in_the_query_zone_and_aware(registry: Registry, engine: AsyncEngine) -> None:
    rows = await oracle(
        engine,
        "select to_char(enrolled_at at time zone 'Asia/Kolkata', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'),"
        " to_char(enrolled_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
        " from enrollments order by id limit 3",
    )
    naive, aware = [row[0] for row in rows[:2]], [row[1] for row in rows[2:]]
    ((expected,),) = await oracle(
        engine,
        "select count(*) from enrollments where enrolled_at in"
        " (select enrolled_at from enrollments order by id limit 3)",
    )
    ((total,),) = await oracle(engine, "select count(*) from enrollments where enrolled_at is not null")
    for op, want in (("in", expected), ("notIn", None)):
        query = SemanticQuery(
            "enrollments",
            measures=("count",),
            filters=(Condition("enrolled_at", op, (*naive, *aware)),),
            timezone="Asia/Kolkata",
        )
        result = await run(registry, engine, query)
        if want is None:
            ((everything,),) = await oracle(engine, "select count(*) from enrollments")
            assert result.rows[0][0] == everything - expected
        else:
            assert result.rows[0][0] == want >= 3
    assert total > expected
