"""The groups of a query come from the root model's rows, whatever measures are selected.

A group in which a measured (joined) model has no rows is kept: counts are 0, sums,
averages and ratios NULL, as a left join from the root would give. Each case compares
with hand-written SQL and checks that the oracle does contain such an empty group (so
the test fails when the group goes missing).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schema.query import DimensionRef, SemanticQuery
from schema.registry import Registry
from tests.resolvers.oracle import assert_same, oracle, run

pytestmark = pytest.mark.integration


async def test_a_group_without_rows_of_the_measured_model_counts_zero(
    registry: Registry, engine: AsyncEngine
) -> None:
    # learners -> enterprise is many_to_one: the enterprise's rows are repeated and counted
    # over distinct keys; learners without an enterprise still make their groups.
    query = SemanticQuery(
        "learners",
        measures=("enterprise.count",),
        dimensions=(DimensionRef("signed_up_at", "day"),),
        timezone="America/Sao_Paulo",
    )
    expected = await oracle(
        engine,
        """
        select date_trunc('day', l.signed_up_at at time zone 'America/Sao_Paulo'), count(distinct o.id)
        from learners l left join organizations o on o.id = l.enterprise_id
        group by 1
        """,
    )
    assert any(count == 0 for _, count in expected)
    result = await run(registry, engine, query)
    assert_same(result.rows, expected, dims=1)
    with_root = await run(registry, engine, replace(query, measures=("count", "enterprise.count")))
    assert {row[0] for row in with_root.rows} == {row[0] for row in result.rows}


async def test_a_sum_two_joins_away_is_null_for_a_group_without_those_rows(
    registry: Registry, engine: AsyncEngine
) -> None:
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "learners",
            measures=("enrollments.course.modules.total_estimated_minutes",),
            dimensions=(DimensionRef("enrollments.enrolled_at", "month"),),
        ),
    )
    expected = await oracle(
        engine,
        """
        select s.month, sum(m.estimated_minutes)
        from (select distinct date_trunc('month', e.enrolled_at at time zone 'UTC') as month, m.id as module
              from learners l
              left join enrollments e on e.learner_id = l.id
              left join courses c on c.id = e.course_id
              left join course_modules m on m.course_id = c.id) s
        left join course_modules m on m.id = s.module
        group by s.month
        """,
    )
    assert (None, None) in expected  # learners without enrollments: no month, no minutes
    assert_same(result.rows, expected, dims=1)


async def test_a_count_through_two_many_to_one_joins_keeps_groups_without_them(
    registry: Registry, engine: AsyncEngine
) -> None:
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "enrollments",
            measures=("learner.enterprise.count",),
            dimensions=(DimensionRef("enrolled_at", "hour"),),
        ),
    )
    expected = await oracle(
        engine,
        """
        select date_trunc('hour', e.enrolled_at at time zone 'UTC'), count(distinct o.id)
        from enrollments e
        left join learners l on l.id = e.learner_id
        left join organizations o on o.id = l.enterprise_id
        group by 1
        """,
    )
    assert any(count == 0 for _, count in expected)
    assert_same(result.rows, expected, dims=1)


async def test_ratios_and_averages_of_an_empty_group_are_null(
    registry: Registry, engine: AsyncEngine
) -> None:
    # learners -> enrollments: the group of learners without enrollments (status NULL).
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "learners",
            measures=("enrollments.completion_rate", "enrollments.avg_progress", "enrollments.count"),
            dimensions=(DimensionRef("enrollments.status"),),
        ),
    )
    expected = await oracle(
        engine,
        """
        select e.status,
               (count(e.id) filter (where e.status = 'completed'))::float8 / nullif(count(e.id), 0),
               avg(e.progress)::float8, count(e.id)
        from learners l left join enrollments e on e.learner_id = l.id
        group by 1
        """,
    )
    assert (None, None, None, 0) in expected
    assert_same(result.rows, expected, dims=1)
