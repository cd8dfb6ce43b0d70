"""Rollups: members of their own model, a time dimension and zone that exist, measures
that their stored parts can rebuild exactly."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schema.issues import Issue
from schema.loader import Loaded
from schema.rollups import opaque_numbers
from schema.snippets import is_column
from schema.spec import ModelSpec, Rollup


def _issues(spec: ModelSpec, rollup: Rollup) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    time = rollup.time.dimension if rollup.time is not None else None
    if len(set(rollup.dimensions)) != len(rollup.dimensions):
        found.append(("dimensions", "lists a dimension twice"))
    for name in rollup.dimensions:
        if "." in name:
            found.append(
                ("dimensions", f"{name!r}: a rollup keeps its own model's dimensions, not joined ones")
            )
        elif name not in spec.dimensions:
            found.append(("dimensions", f"{name!r} is not a dimension of {spec.model}"))
        elif name == time:
            found.append(
                ("dimensions", f"{name!r} is the rollup's time dimension; list it under `time` only")
            )
    for name in rollup.measures:
        if name not in spec.measures:
            found.append(("measures", f"{name!r} is not a measure of {spec.model}"))
    for name in opaque_numbers(spec, rollup.measures):
        found.append(("measures", f"{name!r} has SQL of its own, which no stored part can rebuild"))
    if rollup.time is not None:
        dimension = spec.dimensions.get(rollup.time.dimension)
        if dimension is None or dimension.type != "time":
            found.append(
                ("time.dimension", f"{rollup.time.dimension!r} is not a time dimension of {spec.model}")
            )
        try:
            ZoneInfo(rollup.time.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            found.append(("time.timezone", f"unknown time zone {rollup.time.timezone!r}"))
    if not is_column(rollup.watermark):
        found.append(("watermark", "name a column of the model's rows"))
    return found


def check(loaded: Loaded) -> list[Issue]:
    issues: list[Issue] = []
    for model in loaded.models:
        spec = model.spec
        for name, rollup in spec.rollups.items():
            for where, reason in _issues(spec, rollup):
                issues.append(Issue(model.file, f"{spec.model}.rollups.{name}.{where}", reason))
    return issues
