"""Member paths: how "course.partner.name" reads from a model, join by join.

A part that names a join of the current model follows it; a part that names a model
follows the shortest chain of joins to it, which must be unique. Planning (resolvers/)
and access control (authz/) both read paths through this one function, so they always
agree on which models a query touches.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from schema.registry import Registry
from schema.spec import ModelSpec


class PathError(ValueError):
    """A member path that does not lead anywhere, or leads two ways."""


@dataclass(frozen=True, slots=True)
class Step:
    joins: tuple[str, ...]  # join names from the root, e.g. ("course", "partner")
    model: ModelSpec  # the model those joins reach


def _route(registry: Registry, start: ModelSpec, target: str, member: str) -> tuple[str, ...]:
    """The shortest chain of joins from `start` to the model named `target`."""
    queue: deque[tuple[str, tuple[str, ...]]] = deque([(start.model, ())])
    seen = {start.model}
    found: list[tuple[str, ...]] = []
    while queue and not found:
        for _ in range(len(queue)):
            model, route = queue.popleft()
            for join_name, join in sorted(registry.model(model).joins.items()):
                if join.model == target:
                    found.append((*route, join_name))
                elif join.model not in seen:
                    seen.add(join.model)
                    queue.append((join.model, (*route, join_name)))
    if not found:
        raise PathError(f"unknown member {member!r}: {start.model} has no join to {target!r}")
    if len(found) > 1:
        options = ", ".join(".".join(route) for route in found)
        raise PathError(f"member {member!r} is ambiguous; name the join path: {options}")
    return found[0]


def walk(registry: Registry, root: ModelSpec, member: str) -> tuple[list[Step], str]:
    """Every model the path passes through (the root first) and the member's name."""
    *parts, name = member.split(".")
    steps = [Step((), root)]
    for part in parts:
        current = steps[-1]
        if part in current.model.joins:
            route: tuple[str, ...] = (part,)
        elif part in registry:
            route = _route(registry, current.model, part, member)
        else:
            raise PathError(f"unknown member {member!r}: {current.model.model} has no join {part!r}")
        for join_name in route:
            here = steps[-1]
            target = registry.model(here.model.joins[join_name].model)
            steps.append(Step((*here.joins, join_name), target))
    return steps, name
