"""The SDL says what clients get, so that code generators type results all through."""

from __future__ import annotations

import re
from typing import Any

from schema.graphql_scalars import LOCAL_DATE_TIME_SPEC
from schema.graphql_types import build_schema
from schema.registry import Registry


async def _unused(*_args: Any) -> list[Any]:
    raise AssertionError("not run")


def _type(sdl: str, name: str) -> dict[str, str]:
    block = re.search(rf"\ntype {name} {{\n(.*?)\n}}", sdl, re.DOTALL)
    assert block is not None, name
    return dict(re.findall(r"^  (\w+)(?:\([^)]*\))?: (\S+)$", block.group(1), re.MULTILINE))


def test_counts_rows_and_nested_objects_are_non_null(registry: Registry) -> None:
    sdl = str(build_schema(registry, _unused))
    enrollments = _type(sdl, "Enrollments")
    assert enrollments["count"] == "Int!"
    assert enrollments["learners"] == "Int!"  # count_distinct
    assert enrollments["completed"] == "Int!"  # a filtered count
    assert enrollments["completionRate"] == "Float"  # a ratio can be NULL (no rows)
    assert enrollments["avgProgress"] == "Float"
    assert enrollments["status"] == "String"  # dimensions can be NULL
    assert enrollments["course"] == "Courses!"
    assert enrollments["enrolledAt"] == "Time!"
    assert _type(sdl, "Time")["month"] == "LocalDateTime"
    assert re.search(r"\n  enrollments\(\n.*?\n  \): \[Enrollments!\]!\n", sdl, re.DOTALL)
    assert f'scalar LocalDateTime @specifiedBy(url: "{LOCAL_DATE_TIME_SPEC}")' in sdl
