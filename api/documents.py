"""Parsed and validated GraphQL documents, cached by their text.

Parsing and validating a small document costs about 2 ms; dashboards send the same few
documents all day. Invalid documents are cached too (with their errors).

A new document is prepared in a worker thread, at most `WORKERS` at a time: validating a
document of 2,000 tokens costs up to a few hundred milliseconds (graphql-core's rules are
linear, OverlappingFieldsCanBeMerged up to its complexity budget, lowered here), and that
must not stall the event loop's other requests.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    OverlappingFieldsCanBeMergedRule,
    ValidationContext,
    execute,
    parse,
    specified_rules,
    validate,
)
from graphql.pyutils import is_awaitable
from graphql.validation.validate import ValidationAbortedError

from api.limits import Limits, limit_rules
from resolvers.execution_context import ProjectingExecutor

WORKERS = 2
# graphql-core's default (500,000) allows about 2.5 s of comparisons on a document within
# the token limit (280 copies of `enrollments { course { title } }`); this one about 0.5 s,
# in a worker thread. Usual documents spend nothing; 40 fragments spread side by side that
# overlap in 7 fields spend 22,700.
OVERLAP_BUDGET = 50_000
_ABORTED = "Validation aborted."
TOO_COMPLEX = (
    "the document is too complex to validate: too many fields share a response name (merge"
    " repeated fields, or give them aliases), or fragments nest too deeply"
)


class _BoundedOverlappingFields(OverlappingFieldsCanBeMergedRule):
    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.rule_context.remaining_complexity_budget = OVERLAP_BUDGET


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


async def execute_prepared(
    schema: GraphQLSchema,
    prepared: Prepared,
    context: Any,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    *,
    hide_suggestions: bool,
) -> ExecutionResult:
    """Run a valid prepared document, rows projected as they are resolved."""
    assert prepared.document is not None
    result = execute(
        schema,
        prepared.document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        executor_class=ProjectingExecutor,
        hide_suggestions=hide_suggestions,
    )
    return cast(ExecutionResult, await result if is_awaitable(result) else result)


class DocumentCache:
    def __init__(self, schema: GraphQLSchema, limits: Limits, size: int = 1_000) -> None:
        self.schema = schema
        self.limits = limits
        self.size = size
        self.rules = [
            _BoundedOverlappingFields if rule is OverlappingFieldsCanBeMergedRule else rule
            for rule in (*specified_rules, *limit_rules(limits))
        ]
        if not limits.introspection:
            self.rules.append(NoSchemaIntrospectionCustomRule)
        self._documents: OrderedDict[str, Prepared] = OrderedDict()
        # Its own threads: at most WORKERS documents at a time, and a request that is cancelled
        # while its document waits takes the document out of the queue.
        self._workers = ThreadPoolExecutor(WORKERS, thread_name_prefix="cohort-documents")

    async def prepare(self, text: str) -> Prepared:
        """The document for `text`: from the cache, else parsed and validated off the loop."""
        prepared = self._documents.get(text)
        if prepared is not None:
            self._documents.move_to_end(text)
            return prepared
        prepared = await asyncio.get_running_loop().run_in_executor(self._workers, self._prepare, text)
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
        for position, invalid in enumerate(errors):
            if isinstance(invalid, ValidationAbortedError) and invalid.message == _ABORTED:
                errors[position] = invalid = GraphQLError(TOO_COMPLEX)
            if "code" not in (invalid.extensions or {}):
                invalid.extensions = {**(invalid.extensions or {}), "code": "GRAPHQL_VALIDATION_FAILED"}
        return Prepared(document, validation_errors=tuple(errors))
