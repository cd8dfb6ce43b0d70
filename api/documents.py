"""Parsed and validated GraphQL documents, cached by their text.

Parsing and validating a small document costs about 2 ms; dashboards send the same few
documents all day. Invalid documents are cached too (with their errors).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)

from api.limits import Limits, limit_rules


@dataclass(frozen=True, slots=True)
class Prepared:
    document: DocumentNode | None
    parse_errors: tuple[GraphQLError, ...] = ()
    validation_errors: tuple[GraphQLError, ...] = ()

    def operation(self, name: str | None) -> OperationDefinitionNode | None:
        """The operation that `name` selects (the only one when no name is given)."""
        if self.document is None:
            return None
        operations = [d for d in self.document.definitions if isinstance(d, OperationDefinitionNode)]
        for operation in operations:
            if name is None and len(operations) == 1:
                return operation
            if operation.name is not None and operation.name.value == name:
                return operation
        return None


class DocumentCache:
    def __init__(self, schema: GraphQLSchema, limits: Limits, size: int = 1_000) -> None:
        self.schema = schema
        self.limits = limits
        self.size = size
        self.rules = [*specified_rules, *limit_rules(limits)]
        if not limits.introspection:
            self.rules.append(NoSchemaIntrospectionCustomRule)
        self._documents: OrderedDict[str, Prepared] = OrderedDict()

    def prepare(self, text: str) -> Prepared:
        prepared = self._documents.get(text)
        if prepared is not None:
            self._documents.move_to_end(text)
            return prepared
        prepared = self._prepare(text)
        self._documents[text] = prepared
        if len(self._documents) > self.size:
            self._documents.popitem(last=False)
        return prepared

    def _prepare(self, text: str) -> Prepared:
        try:
            document = parse(text, max_tokens=self.limits.max_tokens)
        except GraphQLError as error:
            error.extensions = {**(error.extensions or {}), "code": "GRAPHQL_PARSE_FAILED"}
            return Prepared(None, parse_errors=(error,))
        errors = validate(
            self.schema, document, self.rules, max_errors=20, hide_suggestions=not self.limits.introspection
        )
        for invalid in errors:
            if "code" not in (invalid.extensions or {}):
                invalid.extensions = {**(invalid.extensions or {}), "code": "GRAPHQL_VALIDATION_FAILED"}
        return Prepared(document, validation_errors=tuple(errors))
