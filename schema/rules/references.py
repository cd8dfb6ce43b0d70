"""References: joins to models that exist, ratios and derived measures over real measures,
and no measure defined in terms of itself."""

from __future__ import annotations

from schema.issues import Issue
from schema.loader import Loaded
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


def _measure_issues(spec: ModelSpec, removed: frozenset[str]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    reported_cycles: set[frozenset[str]] = set()
    for name, measure in spec.measures.items():
        where = f"measures.{name}"
        for dependency in sorted(measure.dependencies()):
            if dependency not in spec.measures and f"measures.{dependency}" not in removed:
                found.append((where, f"refers to {dependency!r}, which is not a measure of {spec.model}"))
        cycle = _cycle_from(spec, name)
        if cycle and frozenset(cycle) not in reported_cycles:
            reported_cycles.add(frozenset(cycle))
            found.append((where, "measures refer to each other in a cycle: " + " -> ".join(cycle)))
    return found


def check(loaded: Loaded) -> list[Issue]:
    # A model whose file failed to load exists; its own issues say what is wrong with it.
    known = {model.spec.model for model in loaded.models} | loaded.broken
    issues: list[Issue] = []
    for model in loaded.models:
        spec = model.spec
        for name, join in spec.joins.items():
            if join.model not in known:
                issues.append(
                    Issue(model.file, f"{spec.model}.joins.{name}", f"unknown model {join.model!r}")
                )
        for where, reason in _measure_issues(spec, model.removed):
            issues.append(Issue(model.file, f"{spec.model}.{where}", reason))
        if spec.learner_count is not None and f"measures.{spec.learner_count}" not in model.removed:
            counter = spec.measures.get(spec.learner_count)
            if counter is None or counter.type not in ("count", "count_distinct"):
                reason = f"{spec.learner_count!r} is not a count or count_distinct measure of {spec.model}"
                issues.append(Issue(model.file, f"{spec.model}.learner_count", reason))
    return issues
