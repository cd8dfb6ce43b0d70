"""Every measure type against hand-written SQL on the seeded demo warehouse."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schema.query import Condition, DimensionRef, SemanticQuery
from schema.registry import Registry
from tests.resolvers.oracle import assert_same, oracle, run

pytestmark = pytest.mark.integration


async def test_enrollment_measures_by_status(registry: Registry, engine: AsyncEngine) -> None:
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "enrollments",
            measures=(
                "count",
                "learners",
                "avg_progress",
                "avg_grade",
                "completed",
                "completion_rate",
                "last_enrolled_at",
            ),
            dimensions=(DimensionRef("status"),),
        ),
    )
    expected = await oracle(
        engine,
        """
        select status, count(*), count(distinct learner_id), avg(progress), avg(grade),
               count(*) filter (where status = 'completed'),
               (count(*) filter (where status = 'completed'))::float8 / count(*),
               max(extract(epoch from enrolled_at))::bigint
        from enrollments group by status
        """,
    )
    assert_same(result.rows, expected, dims=1)
    assert result.columns[0] == "status"


async def test_measures_have_one_type_on_every_path(registry: Registry, engine: AsyncEngine) -> None:
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "enrollments",
            measures=("count", "learners", "avg_progress", "completion_rate", "course.total_duration_hours"),
            dimensions=(DimensionRef("course.subject"),),
        ),
    )
    for row in result.rows:
        count, learners, avg_progress, rate, hours = row[1:]
        assert type(count) is int and type(learners) is int
        assert type(avg_progress) is float and type(rate) is float and type(hours) is float


async def test_grouping_through_two_joins_and_nulls(registry: Registry, engine: AsyncEngine) -> None:
    # Open learners have no enterprise: their enrollments form the NULL group.
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "enrollments",
            measures=("count", "avg_grade"),
            dimensions=(DimensionRef("learner.enterprise.name"), DimensionRef("course.level")),
        ),
    )
    expected = await oracle(
        engine,
        """
        select o.name, c.level, count(*), avg(e.grade)
        from enrollments e
        join learners l on l.id = e.learner_id
        left join organizations o on o.id = l.enterprise_id
        join courses c on c.id = e.course_id
        group by o.name, c.level
        """,
    )
    assert_same(result.rows, expected, dims=2)
    assert any(row[0] is None for row in result.rows)


async def test_feedback_nps_and_ratios(registry: Registry, engine: AsyncEngine) -> None:
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "feedback",
            measures=("responses", "avg_rating", "nps", "satisfied_rate", "promoters", "detractors"),
            dimensions=(DimensionRef("course.subject"),),
        ),
    )
    raw = await oracle(
        engine,
        """
        select c.subject, count(*), avg(f.rating), count(*) filter (where f.nps >= 9),
               count(*) filter (where f.nps <= 6), count(*) filter (where f.rating >= 4)
        from feedback f join courses c on c.id = f.course_id group by c.subject
        """,
    )
    expected = [
        (subject, n, rating, (p - d) * 100.0 / n, satisfied / n, p, d)
        for subject, n, rating, p, d, satisfied in raw
    ]
    assert_same(result.rows, expected, dims=1)


async def test_min_max_sum_and_filtered_count_distinct(registry: Registry, engine: AsyncEngine) -> None:
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "skill_scores",
            measures=("min_score", "max_score", "learners", "proficient", "proficiency_rate", "count"),
            dimensions=(DimensionRef("skill.category"), DimensionRef("assessed_at", "year")),
        ),
    )
    expected = await oracle(
        engine,
        """
        select k.category, date_trunc('year', s.assessed_at at time zone 'UTC'),
               min(s.score), max(s.score), count(distinct s.learner_id),
               count(distinct s.learner_id) filter (where s.score >= 70),
               (count(distinct s.learner_id) filter (where s.score >= 70))::float8
                 / count(distinct s.learner_id),
               count(*)
        from skill_scores s join skills k on k.id = s.skill_id group by 1, 2
        """,
    )
    assert_same(result.rows, expected, dims=2)


async def test_progress_events_sum_and_derived_number(registry: Registry, engine: AsyncEngine) -> None:
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "progress_events",
            measures=("minutes_total", "learning_hours", "active_learners", "modules_completed"),
            dimensions=(DimensionRef("event_type"),),
        ),
    )
    expected = await oracle(
        engine,
        """
        select event_type, sum(minutes_spent), sum(minutes_spent) / 60.0,
               count(distinct learner_id), count(*) filter (where event_type = 'module_completed')
        from progress_events group by event_type
        """,
    )
    assert_same(result.rows, expected, dims=1)
    assert all(type(row[1]) is int for row in result.rows)


async def test_funnel_from_a_sql_model(registry: Registry, engine: AsyncEngine) -> None:
    course_id = (
        await oracle(engine, "select course_id from enrollments group by 1 order by count(*) desc limit 1")
    )[0][0]
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "module_funnel",
            measures=("learners_reached", "learners_completed"),
            dimensions=(DimensionRef("module.position"),),
            filters=(Condition("course.id", "equals", (course_id,)),),
        ),
    )
    expected = await oracle(
        engine,
        """
        select m.position,
               count(distinct p.learner_id),
               count(distinct p.learner_id) filter (where p.event_type = 'module_completed')
        from progress_events p join course_modules m on m.id = p.module_id
        where p.course_id = :course group by m.position
        """,
        course=course_id,
    )
    assert_same(result.rows, expected, dims=1)
    reached = [row[1] for row in sorted(result.rows)]
    assert reached == sorted(reached, reverse=True), "a funnel narrows"


async def test_empty_result(registry: Registry, engine: AsyncEngine) -> None:
    nothing = (Condition("status", "equals", ("no such status",)),)
    grouped = await run(
        registry,
        engine,
        SemanticQuery(
            "enrollments", measures=("count",), dimensions=(DimensionRef("status"),), filters=nothing
        ),
    )
    assert list(grouped.rows) == []
    total = await run(
        registry,
        engine,
        SemanticQuery("enrollments", measures=("count", "avg_grade", "completion_rate"), filters=nothing),
    )
    assert [tuple(row) for row in total.rows] == [(0, None, None)]
