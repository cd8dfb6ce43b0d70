"""Joins: SQL that names both sides, consistent relationships, and no join cycles.

A join declared from both sides (enrollments.course and courses.enrollments) is one
relationship seen twice, not a cycle. Any other directed cycle would let a query join
back into a model it came from, so it is an error.
"""

from __future__ import annotations

from collections.abc import Sequence

from schema.issues import Issue
from schema.loader import Loaded, LoadedModel
from schema.snippets import placeholders
from schema.spec import Relationship

_INVERSE: dict[Relationship, Relationship] = {
    "many_to_one": "one_to_many",
    "one_to_many": "many_to_one",
    "one_to_one": "one_to_one",
}


def _sql_issues(models: Sequence[LoadedModel]) -> list[Issue]:
    issues: list[Issue] = []
    for loaded in models:
        spec = loaded.spec
        for name, join in spec.joins.items():
            where = f"{spec.model}.joins.{name}"
            if join.model == spec.model:
                issues.append(Issue(loaded.file, where, "a model cannot join itself"))
                continue
            used = placeholders(join.sql)
            unknown = used - {spec.model, join.model}
            if unknown:
                reason = f"join SQL may refer to {{{spec.model}}} and {{{join.model}}}, not {sorted(unknown)}"
                issues.append(Issue(loaded.file, where, reason))
            missing = {spec.model, join.model} - used
            if missing:
                issues.append(Issue(loaded.file, where, f"join SQL must refer to {sorted(missing)}"))
    return issues


def _relationship_issues(models: Sequence[LoadedModel]) -> list[Issue]:
    by_name = {loaded.spec.model: loaded for loaded in models}
    issues: list[Issue] = []
    for loaded in models:
        spec = loaded.spec
        for name, join in spec.joins.items():
            target = by_name.get(join.model)
            if target is None:
                continue
            for back_name, back in target.spec.joins.items():
                if back.model == spec.model and back.relationship != _INVERSE[join.relationship]:
                    reason = (
                        f"is {join.relationship}, but {join.model}.joins.{back_name} "
                        f"is {back.relationship} (expected {_INVERSE[join.relationship]})"
                    )
                    issues.append(Issue(loaded.file, f"{spec.model}.joins.{name}", reason))
    return issues


def _edges(models: Sequence[LoadedModel]) -> dict[str, set[str]]:
    declared = {(loaded.spec.model, join.model) for loaded in models for join in loaded.spec.joins.values()}
    edges: dict[str, set[str]] = {loaded.spec.model: set() for loaded in models}
    for source, target in declared:
        if (target, source) not in declared and target in edges:
            edges[source].add(target)
    return edges


def _cycle_issues(models: Sequence[LoadedModel]) -> list[Issue]:
    edges = _edges(models)
    files = {loaded.spec.model: loaded.file for loaded in models}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []
    issues: list[Issue] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                issues.append(Issue(files[target], target, "join cycle: " + " -> ".join(cycle)))
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return issues


def check(loaded: Loaded) -> list[Issue]:
    models = loaded.models
    return _sql_issues(models) + _relationship_issues(models) + _cycle_issues(models)
