"""A dashboard's tiles run on the server (for the PDF) as the page runs them: each tile's
document through the normal GraphQL path as the request's principal (policy, row filters,
an embed session's locked filters, the result cache), with the dashboard filters' values
placed in its `where` as the page places them (docs/embedding.md)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, cast

import msgspec
from graphql import ExecutionResult, execute
from graphql.pyutils import is_awaitable

from api.endpoints import Refused
from api.errors import format_error
from api.runtime import Runtime
from authz.principal import Principal
from resolvers.execution_context import ProjectingExecutor
from resolvers.graphql import RequestContext

MAX_VALUES = 1000  # a select filter offers this many choices at most
Values = dict[str, list[Any]]


@dataclass(frozen=True, slots=True)
class TileRun:
    tile: dict[str, Any]  # the tile as the spec gives it
    rows: list[dict[str, Any]]
    error: str | None = None


def filter_values(view: dict[str, Any], given: Any) -> Values:
    """The filter values a request sends (`{"period": ["2025-01-01", "2025-03-31"], "course": [3]}`),
    checked against the dashboard's filters; their types are checked when the tiles run."""
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise Refused(400, "`filters` must be an object of filter names to lists of values")
    kinds = {item["name"]: item["type"] for item in view["filters"]}
    values: Values = {}
    for name, value in given.items():
        if name not in kinds:
            known = ", ".join(kinds) or "none"
            raise Refused(400, f"the dashboard has no filter {str(name)[:64]!r} (filters: {known})")
        scalars = isinstance(value, list) and all(
            isinstance(item, str | int | float) and not isinstance(item, bool) for item in value
        )
        if kinds[name] == "date_range":
            if not (scalars and len(value) == 2 and all(isinstance(item, str) for item in value)):
                raise Refused(400, f"the filter {name} takes two dates, [from, to]")
        elif not (scalars and 1 <= len(value) <= MAX_VALUES):
            raise Refused(400, f"the filter {name} takes a list of 1 to {MAX_VALUES} values")
        values[name] = value
    return values


def _nest(path: list[str], leaf: dict[str, Any]) -> dict[str, Any]:
    for key in reversed(path):
        leaf = {key: leaf}
    return leaf


def tile_where(view: dict[str, Any], tile: dict[str, Any], values: Values) -> dict[str, Any] | None:
    kinds = {item["name"]: item["type"] for item in view["filters"]}
    conditions = [
        _nest(path, {"inDateRange": values[name]} if kinds[name] == "date_range" else {"in": values[name]})
        for name, path in tile["listen"].items()
        if name in values
    ]
    if not conditions:
        return cast(dict[str, Any] | None, tile["where"])
    return {"AND": [where for where in (tile["where"], *conditions) if where]}


async def _run(runtime: Runtime, principal: Principal, tile: dict[str, Any], where: Any) -> TileRun:
    prepared = await runtime.documents.prepare(tile["document"])
    assert prepared.document is not None  # the spec's own documents parse and validate
    result = execute(
        runtime.schema._schema,
        prepared.document,
        context_value=RequestContext(principal),
        variable_values={"where": where},
        operation_name=tile["operation"],
        executor_class=ProjectingExecutor,
    )
    outcome = cast(ExecutionResult, await result if is_awaitable(result) else result)
    if outcome.errors:
        return TileRun(tile, [], format_error(outcome.errors[0])["message"])
    rows = (outcome.data or {}).get(tile["field"]) or []
    # Rows as the projector gives them: Structs, or JSON already encoded (resolvers/projection.py).
    rows = msgspec.json.decode(rows) if isinstance(rows, msgspec.Raw) else msgspec.to_builtins(rows)
    return TileRun(tile, list(rows))


async def run_tiles(
    runtime: Runtime, principal: Principal, view: dict[str, Any], values: Values, timeout_s: float
) -> list[TileRun]:
    try:
        async with asyncio.timeout(timeout_s):
            runs = (_run(runtime, principal, tile, tile_where(view, tile, values)) for tile in view["tiles"])
            return list(await asyncio.gather(*runs))
    except TimeoutError:
        raise Refused(504, f"the dashboard's tiles took longer than {timeout_s:g} s", "TIMEOUT") from None
