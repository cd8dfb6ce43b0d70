"""Limits on GraphQL documents: depth and aliases, as validation rules.

Introspection fields (`__schema`, `__type`) are not counted toward depth (GraphiQL's own
introspection query nests `ofType` a dozen levels deep), but their aliases are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.validation.validation_context import ASTValidationContext


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 8
    max_aliases: int = 30
    max_tokens: int = 2_000
    max_document_chars: int = 20_000
    max_body_bytes: int = 256_000
    introspection: bool = True


def _walk(
    context: ASTValidationContext, selection_set: SelectionSetNode | None, depth: int, seen: frozenset[str]
) -> tuple[int, int]:
    """(deepest field depth, aliases) below a selection set, fragments included."""
    if selection_set is None:
        return depth, 0
    deepest, aliases = depth, 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            aliases += selection.alias is not None
            # Introspection nests `ofType` deeply by design: its aliases count, its depth not.
            below, more = _walk(context, selection.selection_set, depth + 1, seen)
            if selection.name.value.startswith("__"):
                below = depth
        elif isinstance(selection, InlineFragmentNode):
            below, more = _walk(context, selection.selection_set, depth, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = context.get_fragment(name)
            if fragment is None or name in seen:  # unknown or cyclic: other rules report it
                continue
            below, more = _walk(context, fragment.selection_set, depth, seen | {name})
        else:
            continue
        deepest, aliases = max(deepest, below), aliases + more
    return deepest, aliases


def limit_rules(limits: Limits) -> list[type[ASTValidationRule]]:
    class DocumentLimits(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            depth, aliases = _walk(self.context, node.selection_set, 0, frozenset())
            name = node.name.value if node.name else "anonymous"
            if depth > limits.max_depth:
                message = f"operation {name!r} is {depth} levels deep; the limit is {limits.max_depth}"
                self.report_error(GraphQLError(message, node, extensions={"code": "BAD_USER_INPUT"}))
            if aliases > limits.max_aliases:
                message = f"operation {name!r} uses {aliases} aliases; the limit is {limits.max_aliases}"
                self.report_error(GraphQLError(message, node, extensions={"code": "BAD_USER_INPUT"}))

    return [DocumentLimits]
