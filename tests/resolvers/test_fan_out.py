"""Measures stay correct across joins that repeat rows (symmetric aggregates)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schema.query import Condition, DimensionRef, SemanticQuery
from schema.registry import Registry
from tests.resolvers.oracle import assert_same, oracle, run

pytestmark = pytest.mark.integration


async def test_one_to_many_does_not_inflate_the_one_side(registry: Registry, engine: AsyncEngine) -> None:
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "courses",
            measures=(
                "count",
                "total_duration_hours",
                "avg_duration_hours",
                "enrollments.count",
                "enrollments.avg_progress",
            ),
            dimensions=(DimensionRef("subject"),),
        ),
    )
    expected = await oracle(
        engine,
        """
        select c.subject, c.courses, c.hours, c.avg_hours, e.enrollments, e.avg_progress
        from (select subject, count(*) as courses, sum(duration_hours) as hours,
                     avg(duration_hours) as avg_hours
              from courses group by subject) c
        join (select c.subject, count(e.id) as enrollments, avg(e.progress) as avg_progress
              from courses c left join enrollments e on e.course_id = c.id
              group by c.subject) e on e.subject = c.subject
        """,
    )
    assert_same(result.rows, expected, dims=1)
    # The naive join multiplies course sums by their enrollments: the test would see it.
    naive = await oracle(
        engine,
        "select c.subject, sum(c.duration_hours) from courses c"
        " join enrollments e on e.course_id = c.id group by 1",
    )
    correct = {row[0]: row[2] for row in result.rows}
    assert any(float(total) != correct[subject] for subject, total in naive)


async def test_many_to_one_measure_counts_each_course_once_per_group(
    registry: Registry, engine: AsyncEngine
) -> None:
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "enrollments",
            measures=("count", "course.total_duration_hours", "course.count", "course.avg_price"),
            dimensions=(DimensionRef("status"),),
        ),
    )
    expected = await oracle(
        engine,
        """
        select s.status,
               (select count(*) from enrollments e where e.status = s.status),
               sum(c.duration_hours), count(*), avg(c.price) filter (where c.is_paid)
        from (select distinct status, course_id from enrollments) s
        join courses c on c.id = s.course_id
        group by s.status
        """,
    )
    assert_same(result.rows, expected, dims=1)


async def test_fan_out_without_dimensions_and_with_a_filter(registry: Registry, engine: AsyncEngine) -> None:
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "courses",
            measures=("count", "total_duration_hours", "enrollments.count"),
            filters=(Condition("enrollments.status", "equals", ("completed",)),),
        ),
    )
    expected = await oracle(
        engine,
        """
        with done as (select course_id from enrollments where status = 'completed')
        select (select count(*) from courses where id in (select course_id from done)),
               (select sum(duration_hours) from courses where id in (select course_id from done)),
               (select count(*) from done)
        """,
    )
    assert [tuple(row) for row in result.rows] == [(expected[0][0], float(expected[0][1]), expected[0][2])]


async def test_measures_from_two_repeated_sides(registry: Registry, engine: AsyncEngine) -> None:
    # learners -> enrollments (one_to_many) and enrollments -> course (many_to_one):
    # learners are repeated by enrollments, and courses are repeated by learners.
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "learners",
            measures=("count", "enrollments.count", "enrollments.course.total_duration_hours"),
            dimensions=(DimensionRef("country"),),
        ),
    )
    expected = await oracle(
        engine,
        """
        select l.country,
               count(distinct l.id),
               count(e.id),
               (select sum(c.duration_hours) from courses c where c.id in (
                    select e2.course_id from enrollments e2 join learners l2 on l2.id = e2.learner_id
                    where l2.country = l.country))
        from learners l left join enrollments e on e.learner_id = l.id
        group by l.country
        """,
    )
    assert_same(result.rows, expected, dims=1)


async def test_having_on_a_joined_measure(registry: Registry, engine: AsyncEngine) -> None:
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "courses",
            measures=("count", "enrollments.count"),
            dimensions=(DimensionRef("title"),),
            filters=(Condition("enrollments.count", "gt", (100,)),),
        ),
    )
    expected = await oracle(
        engine,
        """
        select c.title, count(distinct c.id), count(e.id)
        from courses c left join enrollments e on e.course_id = c.id
        group by c.title having count(e.id) > 100
        """,
    )
    assert_same(result.rows, expected, dims=1)
