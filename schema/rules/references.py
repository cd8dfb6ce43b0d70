"""References: joins to models that exist, ratios and derived measures over real measures,
and no measure defined in terms of itself."""

from __future__ import annotations

from collections.abc import Sequence

from schema.issues import Issue
from schema.loader import LoadedModel
from schema.spec import ModelSpec


def _cycle_from(spec: ModelSpec, start: str) -> list[str] | None:
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        measure = spec.measures.get(name)
        if measure is None:
            return None
        path.append(name)
        for dependency in sorted(measure.dependencies()):
            if cycle := visit(dependency):
                return cycle
        path.pop()
        return None

    return visit(start)


def _measure_issues(spec: ModelSpec) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    reported_cycles: set[frozenset[str]] = set()
    for name, measure in spec.measures.items():
        where = f"measures.{name}"
        for dependency in sorted(measure.dependencies()):
            if dependency not in spec.measures:
                found.append((where, f"refers to {dependency!r}, which is not a measure of {spec.model}"))
        cycle = _cycle_from(spec, name)
        if cycle and frozenset(cycle) not in reported_cycles:
            reported_cycles.add(frozenset(cycle))
            found.append((where, "measures refer to each other in a cycle: " + " -> ".join(cycle)))
    return found


def check(models: Sequence[LoadedModel]) -> list[Issue]:
    known = {loaded.spec.model for loaded in models}
    issues: list[Issue] = []
    for loaded in models:
        spec = loaded.spec
        for name, join in spec.joins.items():
            if join.model not in known:
                issues.append(
                    Issue(loaded.file, f"{spec.model}.joins.{name}", f"unknown model {join.model!r}")
                )
        for where, reason in _measure_issues(spec):
            issues.append(Issue(loaded.file, f"{spec.model}.{where}", reason))
    return issues
