"""`POST /export.csv`: the rows of a GraphQL query (a dashboard tile's, or any) as CSV.

The body is the one `/graphql` takes. The document runs through the GraphQL path as far as
access control (authentication, rate limit, validation, the selection and arguments, the
policy and an embed session's locked filters), one root field of a model per request; then
its statement streams from a server-side cursor (resolvers/streaming.py), past the page
limit, up to `COHORT_EXPORT_MAX_ROWS` rows, in the memory of one batch. Headers are the
members' titles. Whatever fails before the first row is an HTTP error with a JSON body;
whatever stops the stream later (too many rows, the export's time limit, the database) is
the last line: `#ERROR,<code>,<message>`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from graphql import OperationType
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from api import csv_format
from api.documents import execute_prepared
from api.endpoints import NO_STORE, Refused, authenticated, graphql_request, json_body, within_rate_limit
from api.errors import INTERNAL, MASKED_MESSAGE, format_error
from api.limits import Limits
from api.runtime import Runtime
from api.settings import ExportSettings
from authz.principal import Principal
from resolvers.compiler import CompiledQuery
from resolvers.errors import ExecutionError, QueryError, ResolverError
from resolvers.graphql import Planned, RequestContext
from resolvers.selection import Column, Item, Nested
from resolvers.streaming import stream_rows
from schema.titles import member_title

log = logging.getLogger("cohort.export")
_STATUS = {
    "FORBIDDEN": 403,
    "UNAUTHENTICATED": 401,
    "SERVICE_UNAVAILABLE": 503,
    "TIMEOUT": 504,
    INTERNAL: 500,
}
_FILENAME = re.compile(r"[^A-Za-z0-9_.-]+")
GRACE_S = 30.0  # past the export's time limit, a client that stopped reading is cut off


@dataclass(frozen=True, slots=True)
class _Export:
    planned: Planned
    compiled: CompiledQuery
    titles: list[str]
    indexes: list[int]
    filename: str


def _columns(items: Sequence[Item]) -> list[Column]:
    found: list[Column] = []
    for item in items:
        if isinstance(item, Column):
            found.append(item)
        elif isinstance(item, Nested):
            found += _columns(item.items)
    return found


def _refusal(error: Exception) -> Refused:
    code = error.code if isinstance(error, ResolverError) else INTERNAL
    if code == INTERNAL or isinstance(error, ExecutionError):
        log.error("export failed", exc_info=error)
        return Refused(500, MASKED_MESSAGE, INTERNAL)
    retry = getattr(error, "retry_after_s", None)
    return Refused(_STATUS.get(code, 400), str(error), code, {"Retry-After": str(retry)} if retry else None)


class _CsvResponse(StreamingResponse):
    """A streamed response that releases what the stream holds however it ends, even if it
    never started (a client that left first), and cuts off a client that stops reading."""

    def __init__(
        self,
        content: AsyncIterator[str],
        cleanup: Callable[[], Awaitable[None]],
        limit_s: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(content, **kwargs)
        self.cleanup = cleanup
        self.limit_s = limit_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with asyncio.timeout(self.limit_s):
                await super().__call__(scope, receive, send)
        finally:
            await self.cleanup()


class CsvExport:
    def __init__(self, limits: Limits, settings: ExportSettings) -> None:
        self.limits = limits
        self.settings = settings
        self.running = asyncio.Semaphore(settings.concurrency)

    async def handle(self, request: Request) -> Response:
        state = request.app.state.cohort
        try:
            principal = await authenticated(request)
            rate_headers = await within_rate_limit(request, principal)
            body = await json_body(request, self.limits.max_body_bytes)
            query, variables, name = graphql_request(body, self.limits)
            runtime: Runtime = state.runtime
            export = self._prepare(
                runtime, await self._plan(runtime, principal, query, variables, name), name
            )
            if self.running.locked():
                message = f"{self.settings.concurrency} exports are running; try again shortly"
                raise Refused(503, message, "SERVICE_UNAVAILABLE", {"Retry-After": "5"})
            await self.running.acquire()
            return await self._start(runtime, export, rate_headers)
        except Refused as refused:
            return refused.response()

    async def _plan(
        self,
        runtime: Runtime,
        principal: Principal,
        query: str,
        variables: dict[str, Any] | None,
        name: str | None,
    ) -> Planned:
        prepared = await runtime.documents.prepare(query)
        if prepared.parse_errors:
            raise Refused(400, prepared.parse_errors[0].message, "GRAPHQL_PARSE_FAILED")
        operation = prepared.operation(name)
        if operation is None:
            raise Refused(
                400,
                "name the operation to export (operationName)"
                if name is None
                else f"no operation named {name!r}",
            )
        if operation.operation is not OperationType.QUERY:
            raise Refused(400, "only queries can be exported")
        if prepared.validation_errors:
            message = "; ".join(error.message for error in prepared.validation_errors)
            raise Refused(400, message, "GRAPHQL_VALIDATION_FAILED")
        context = RequestContext(principal, planned=[])
        outcome = await execute_prepared(
            runtime.schema._schema,
            prepared,
            context,
            variables,
            name,
            hide_suggestions=not self.limits.introspection,
        )
        if outcome.errors:
            formatted = format_error(outcome.errors[0])
            code = formatted["extensions"]["code"]
            raise Refused(_STATUS.get(code, 400), formatted["message"], code)
        fields = list((outcome.data or {}).keys())
        assert context.planned is not None
        if len(fields) != 1 or len(context.planned) != 1:
            raise Refused(
                400,
                "an export takes one root field of a model per request; this document selects "
                f"{', '.join(fields) or 'nothing'}",
            )
        return context.planned[0]

    def _prepare(self, runtime: Runtime, planned: Planned, operation: str | None) -> _Export:
        query = planned.effective.query
        most = self.settings.max_rows
        if query.limit is not None and query.limit > most:
            raise Refused(
                400, f"an export has at most {most} rows (COHORT_EXPORT_MAX_ROWS), not {query.limit}"
            )
        # One row more than the most an export gives: that row says it was cut short.
        limit = query.limit if query.limit is not None else most + 1
        effective = replace(planned.effective, query=replace(query, limit=limit))
        try:
            compiled = runtime.resolvers.service.compile(effective, max_limit=most + 1)
        except QueryError as error:
            raise Refused(400, str(error)) from None
        model = runtime.registry.model(planned.model)
        columns = _columns(planned.selection.items)
        position = {column: index for index, column in enumerate(compiled.columns)}
        titles = [member_title(runtime.registry, model, column.member, column.grain) for column in columns]
        filename = _FILENAME.sub("-", operation or planned.model)[:100] or "export"
        return _Export(planned, compiled, titles, [position[column.column] for column in columns], filename)

    async def _start(self, runtime: Runtime, export: _Export, rate_headers: dict[str, str]) -> Response:
        executor = runtime.resolvers.service.executor
        rows = stream_rows(executor, export.compiled, export.planned.budget, self.settings.batch_rows)
        released = False

        async def cleanup() -> None:
            nonlocal released
            await rows.aclose()
            if not released:
                released = True
                self.running.release()

        try:
            first = await anext(rows, None)
        except Exception as error:
            await cleanup()
            raise _refusal(error) from None
        headers = {
            **NO_STORE,
            **rate_headers,
            "Content-Disposition": f'attachment; filename="{export.filename}.csv"',
            "X-Content-Type-Options": "nosniff",
        }
        body = self._body(export, first, rows)
        limit_s = self.settings.timeout_s + GRACE_S
        return _CsvResponse(body, cleanup, limit_s, headers=headers, media_type="text/csv; charset=utf-8")

    async def _body(
        self,
        export: _Export,
        first: Sequence[Sequence[Any]] | None,
        rows: AsyncIterator[Sequence[Sequence[Any]]],
    ) -> AsyncIterator[str]:
        yield csv_format.lines([export.titles])
        most, indexes = self.settings.max_rows, export.indexes
        deadline = asyncio.get_running_loop().time() + self.settings.timeout_s
        sent, batch = 0, first
        while batch:
            take = batch[: most - sent]
            yield csv_format.lines([csv_format.cell(row[i]) for i in indexes] for row in take)
            sent += len(take)
            if len(batch) > len(take):
                message = f"the export stops at {most} rows (COHORT_EXPORT_MAX_ROWS): narrow it with where"
                yield csv_format.error_line("TOO_MANY_ROWS", message)
                return
            if asyncio.get_running_loop().time() > deadline:
                message = f"the export ran past {self.settings.timeout_s:g} s and stopped after {sent} rows"
                yield csv_format.error_line("TIMEOUT", message)
                return
            try:
                batch = await anext(rows, None)
            except Exception as error:
                refused = _refusal(error)
                yield csv_format.error_line(refused.code, f"{refused.message} (after {sent} rows)")
                return
