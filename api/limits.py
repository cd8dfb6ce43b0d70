"""Limits on GraphQL documents: depth and aliases, as validation rules.

Both are measured in time linear in the document: each definition's selections are
walked once, without following its spreads, into a summary (its own depth and aliases,
and the spreads it makes at which depth); fragments are then combined in dependency
order, each once. Expanding spreads instead would cost time exponential in the
document: 22 fragments that each spread the next twice are 2^21 copies of the last.
Aliases repeated through spreads still count every time they are spread (the response
really has that many keys), multiplied from the per-fragment totals and capped, so a
huge effective count is refused without building it.

Introspection fields (`__schema`, `__type`) are not counted toward depth (GraphiQL's own
introspection query nests `ofType` a dozen levels deep), but their aliases are.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

# Alias counts saturate here: far above any limit, far below numbers that cost to add.
ALIAS_CAP = 1 << 40


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 8
    max_aliases: int = 30
    max_tokens: int = 2_000
    max_document_chars: int = 20_000
    max_body_bytes: int = 256_000
    # Variables: graphql-core and strawberry convert every input object field by field on the
    # event loop (about 0.4 ms an object), so the count is bounded, not only the body size.
    max_input_objects: int = 200
    max_input_values: int = 12_000
    introspection: bool = True


@dataclass(slots=True)
class _Summary:
    """One definition's own selections: deepest field level, aliases, and its spreads
    with the field depth they occur at (None below an introspection field)."""

    depth: int = 0
    aliases: int = 0
    spreads: list[tuple[str, int | None]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int
    aliases: int  # at most ALIAS_CAP
    visits: int  # selections looked at, over the whole document


def _summarize(selection_set: SelectionSetNode) -> tuple[_Summary, int]:
    """A definition's summary, without following spreads; and how many selections it has."""
    summary, visits = _Summary(), 0
    stack: list[tuple[SelectionSetNode, int | None]] = [(selection_set, 0)]
    while stack:
        current, depth = stack.pop()
        for selection in current.selections:
            visits += 1
            if isinstance(selection, FieldNode):
                summary.aliases += selection.alias is not None
                # Introspection nests `ofType` deeply by design: its aliases count, its depth not.
                below = None if depth is None or selection.name.value.startswith("__") else depth + 1
                if below is not None:
                    summary.depth = max(summary.depth, below)
                if selection.selection_set is not None:
                    stack.append((selection.selection_set, below))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, depth))
            elif isinstance(selection, FragmentSpreadNode):
                summary.spreads.append((selection.name.value, depth))
    return summary, visits


def _order(summaries: Mapping[str, _Summary]) -> Iterator[str]:
    """Fragment names, each after the fragments it spreads (without recursion). A spread
    that closes a cycle is left out: other rules report cycles."""
    done: set[str] = set()
    for root in summaries:
        if root in done:
            continue
        path = [(root, iter(summaries[root].spreads))]
        on_path = {root}
        while path:
            name, spreads = path[-1]
            for spread, _depth in spreads:
                if spread in summaries and spread not in done and spread not in on_path:
                    path.append((spread, iter(summaries[spread].spreads)))
                    on_path.add(spread)
                    break
            else:
                path.pop()
                on_path.discard(name)
                done.add(name)
                yield name


def _combine(summary: _Summary, totals: Mapping[str, tuple[int, int]]) -> tuple[int, int]:
    depth, aliases = summary.depth, summary.aliases
    for name, at in summary.spreads:
        total = totals.get(name)
        if total is None:  # unknown, or closing a cycle: other rules report it
            continue
        if at is not None:
            depth = max(depth, at + total[0])
        aliases = min(ALIAS_CAP, aliases + total[1])
    return depth, aliases


def measure(document: DocumentNode) -> dict[OperationDefinitionNode, Measure]:
    """Depth and aliases of every operation, fragments included, in linear time."""
    fragments: dict[str, _Summary] = {}
    operations: list[tuple[OperationDefinitionNode, _Summary]] = []
    visits = 0
    for definition in document.definitions:
        if not isinstance(definition, ExecutableDefinitionNode):
            continue
        summary, seen = _summarize(definition.selection_set)
        visits += seen
        if isinstance(definition, FragmentDefinitionNode):
            fragments.setdefault(definition.name.value, summary)
        elif isinstance(definition, OperationDefinitionNode):
            operations.append((definition, summary))
    totals: dict[str, tuple[int, int]] = {}
    for name in _order(fragments):
        totals[name] = _combine(fragments[name], totals)
    return {node: Measure(*_combine(summary, totals), visits) for node, summary in operations}


def variables_problem(variables: Mapping[str, Any], limits: Limits) -> str | None:
    """Why these variables are refused (too many input objects or values), or None."""
    objects = values = 0
    pending: list[Any] = [variables]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            objects += 1
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        else:
            values += 1
        if objects > limits.max_input_objects + 1:  # the variables object itself is not an input
            return f"the variables hold more than {limits.max_input_objects} input objects"
        if values > limits.max_input_values:
            return f"the variables hold more than {limits.max_input_values:,} values"
    return None


def limit_rules(limits: Limits) -> list[type[ASTValidationRule]]:
    class DocumentLimits(ASTValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> None:
            for operation, found in measure(node).items():
                self._check(operation, found)

        def _check(self, node: OperationDefinitionNode, found: Measure) -> None:
            name = node.name.value if node.name else "anonymous"
            code = {"code": "GRAPHQL_VALIDATION_FAILED"}
            if found.depth > limits.max_depth:
                message = f"operation {name!r} is {found.depth} levels deep; the limit is {limits.max_depth}"
                self.report_error(GraphQLError(message, node, extensions=code))
            if found.aliases > limits.max_aliases:
                count = f"over {ALIAS_CAP:,}" if found.aliases >= ALIAS_CAP else f"{found.aliases:,}"
                message = (
                    f"operation {name!r} uses {count} aliases (fragments count each time they are"
                    f" spread); the limit is {limits.max_aliases}"
                )
                self.report_error(GraphQLError(message, node, extensions=code))

    return [DocumentLimits]
