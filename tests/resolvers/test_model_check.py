"""`cohort validate --db`: the models against the live database."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from resolvers.model_check import check_database
from schema.registry import Registry
from schema.validator import registry_from_texts

pytestmark = pytest.mark.integration

BROKEN = """
model: enrollments
table: enrollments
primary_key: id
joins:
  course: {model: courses, relationship: many_to_one, sql: "{enrollments}.course_id = {courses}.identifier"}
dimensions:
  status: {type: number}
  enrolled_at: {type: time, sql: "{TABLE}.enrolled_at::date"}
  colour: {type: string}
measures:
  total: {type: sum, sql: "nonsense(", filter: "{TABLE}.status = 'x'"}
segments:
  bad: {sql: "{TABLE}.missing > 1"}
"""

COURSES = """
model: courses
table: courses_typo
primary_key: id
"""


async def test_demo_models_match_the_database(registry: Registry, engine: AsyncEngine) -> None:
    assert await check_database(registry, engine) == []


async def test_every_database_problem_is_reported(engine: AsyncEngine) -> None:
    registry = registry_from_texts({"enrollments.yml": BROKEN, "courses.yml": COURSES})
    issues = await check_database(registry, engine)
    by_member = {issue.member: issue.reason for issue in issues}
    assert "courses_typo" in by_member["courses"]
    assert "declared number, but the SQL gives text" in by_member["enrollments.dimensions.status"]
    assert "declared time, but the SQL gives date" in by_member["enrollments.dimensions.enrolled_at"]
    assert "colour" in by_member["enrollments.dimensions.colour"]
    assert "syntax error" in by_member["enrollments.measures.total"]
    assert "missing" in by_member["enrollments.segments.bad"]
    assert "enrollments.joins.course" in by_member
    assert {issue.file for issue in issues} == {"enrollments.yml", "courses.yml"}


async def test_refresh_sql_is_checked(engine: AsyncEngine) -> None:
    refresh = 'refresh: {sql: "select max(updated) from courses"}\n'  # no such column
    model = COURSES.replace("courses_typo", "courses") + refresh
    issues = await check_database(registry_from_texts({"courses.yml": model}), engine)
    assert [issue.member for issue in issues] == ["courses.refresh.sql"]
