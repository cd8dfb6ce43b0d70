"""Titles of members as people read them: column headers (CSV) and chart labels."""

from __future__ import annotations

from schema.paths import walk
from schema.registry import Registry
from schema.spec import ModelSpec


def _words(name: str) -> str:
    return name.replace("_", " ").capitalize()


def member_title(registry: Registry, model: ModelSpec, member: str, grain: str | None = None) -> str:
    """`count` -> "Enrollments"; `course.subject` -> "Course: Subject";
    `enrolled_at` by month -> "Enrolled (month)". A member without a title is its name in words."""
    steps, name = walk(registry, model, member)
    target = steps[-1].model
    spec = target.measures.get(name) or target.dimensions.get(name)
    title = (spec.title if spec is not None else None) or _words(name)
    if grain is not None:
        title = f"{title} ({grain})"
    joins = steps[-1].joins
    return f"{_words(joins[-1])}: {title}" if joins else title
