"""The GraphQL result path, without SQL: what Cohort adds on top of the database.

    .venv/bin/python -m bench.graphql_path

1. A 10,000-row, 7-field result: projection + response serialization, against the
   floor of orjson serializing the same rows as dicts, and against graphql-core
   completing the rows field by field (the naive path).
2. A small dashboard query through the whole ASGI app (routing, body, document cache,
   execution, planning, projection, JSON) with the database call replayed from memory,
   so that the time is the server's own.

Needs DATABASE_URL (or the embedded PostgreSQL) with the demo data (`make run` seeds it).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import msgspec
import orjson
from graphql import execute, parse

from api.app import create_app
from api.auth.jwt_verifier import mint_token
from api.services import start_services
from api.settings import Settings
from authz.principal import Principal
from resolvers.compiler import CompiledQuery
from resolvers.execution_context import ProjectingExecutor
from resolvers.executor import QueryResult
from resolvers.graphql import RequestContext
from schema.graphql_types import build_schema

encode = msgspec.json.Encoder().encode
ROWS_QUERY = """{ progressEvents(limit: 10000) {
  learner { id country }
  course { subject }
  occurredAt { day }
  eventType
  count
  minutesTotal
} }"""
SMALL_QUERY = """query Small { enrollments(where: {status: {equals: "active"}}, limit: 10) {
  course { subject } count completionRate
} }"""


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


async def _time(work: Callable[[], Awaitable[Any]], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - started)
    return _median_ms(samples)


class Replay:
    """Stands in for the executor: answers each statement with the rows it first got."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.results: dict[str, QueryResult] = {}

    async def run(self, query: CompiledQuery) -> QueryResult:
        if query.sql not in self.results:
            self.results[query.sql] = await self.real.run(query)
        return self.results[query.sql]


async def _asgi_post(app: Any, body: bytes, token: str) -> bytes:
    """One POST /graphql straight through the ASGI interface (no HTTP client in the way)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5000),
        "headers": [
            (b"content-type", b"application/json"),
            (b"accept", b"application/graphql-response+json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "app": app,
    }
    sent = False
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return b"".join(chunks)


ADMIN = Principal(subject="user:bench", tenant="cohort-platform", roles=("platform_admin",))


async def main() -> None:
    # Rate limiting off: 2,000 requests from one principal would be refused, and its Redis
    # round trip is not the server's own work. The cache is measured separately below.
    base = replace(
        Settings.from_env(), reload_interval_s=0, policy_reload_interval_s=0, rate_limit_per_minute=0
    )
    services = start_services(base)
    token = mint_token(
        base.auth, base.data_dir, subject="bench", tenant="cohort-platform", roles=["platform_admin"]
    )
    await _rows(replace(base, cache=False), services.database_url)
    await _cached_rows(replace(base, cache=True), services.database_url)
    for cache in (False, True):
        await _small(replace(base, cache=cache), services.database_url, token)


async def _rows(settings: Settings, database_url: str) -> None:
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        state = app.state.cohort
        runtime = state.runtime
        replay = Replay(state.executor)
        runtime.resolvers.service.executor = replay  # every statement runs once, then replays

        # 1. 10,000 rows
        document = parse(ROWS_QUERY)
        schema = runtime.schema._schema

        async def ours() -> bytes:
            result = await execute(
                schema, document, context_value=RequestContext(ADMIN), executor_class=ProjectingExecutor
            )
            return encode({"data": result.data})

        rows = orjson.loads(await ours())["data"]["progressEvents"]
        assert len(rows) == 10_000, len(rows)
        same = orjson.loads(await ours())["data"]  # the very same rows, as plain dicts

        async def floor() -> bytes:
            return orjson.dumps({"data": same})  # the very same rows, already built

        async def naive_resolve(model: str, info: Any, arguments: Any) -> list[Any]:
            projected = await runtime.resolvers.resolve(model, info, arguments)
            # plain objects: graphql-core completes each of their fields through strawberry
            return [_objects(row) for row in msgspec.to_builtins(projected.rows)]

        naive_schema = build_schema(runtime.registry, naive_resolve)._schema

        async def naive() -> bytes:
            result = await execute(naive_schema, document, context_value=RequestContext(ADMIN))
            assert not result.errors, result.errors
            return orjson.dumps({"data": result.data})

        print("## 10,000 rows x 7 fields (median ms)")
        floor_ms = await _time(floor, 30)
        ours_ms = await _time(ours, 30)
        naive_ms = await _time(naive, 3)
        print(f"| orjson of the same rows (floor) | {floor_ms:.2f} |")
        print(f"| Cohort: execute + project + serialize | {ours_ms:.2f} ({ours_ms / floor_ms:.1f}x floor) |")
        naive_ratio = naive_ms / floor_ms
        print(f"| naive: graphql-core completion + serialize | {naive_ms:.2f} ({naive_ratio:.0f}x floor) |")


async def _cached_rows(settings: Settings, database_url: str) -> None:
    """The same 10,000 rows answered from the result cache: a Redis GET, zlib, and the
    stored JSON embedded in the response as is."""
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        schema = app.state.cohort.runtime.schema._schema
        document = parse(ROWS_QUERY)

        async def cached() -> bytes:
            result = await execute(
                schema, document, context_value=RequestContext(ADMIN), executor_class=ProjectingExecutor
            )
            return encode({"data": result.data})

        first = orjson.loads(await cached())
        floor_data = first["data"]
        hit = orjson.loads(await cached())
        assert hit["data"] == floor_data and len(floor_data["progressEvents"]) == 10_000
        floor_ms = await _time(lambda: _dumps(floor_data), 30)
        cached_ms = await _time(cached, 30)
        print("\n## the same 10,000 rows from the result cache (median ms)")
        print(f"| orjson of the same rows (floor) | {floor_ms:.2f} |")
        ratio = cached_ms / floor_ms
        print(f"| Cohort: a cache hit (GET, zlib, embed) | {cached_ms:.2f} ({ratio:.1f}x floor) |")


async def _dumps(data: Any) -> bytes:
    return orjson.dumps({"data": data})


async def _small(settings: Settings, database_url: str, token: str) -> None:
    """A small query through the ASGI app: authentication, parsing (cached), authorization,
    planning and compiling (cached), projection, JSON; the SQL replayed from memory."""
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        state = app.state.cohort
        state.runtime.resolvers.service.executor = Replay(state.executor)
        body = orjson.dumps({"query": SMALL_QUERY})
        await _asgi_post(app, body, token)
        small_ms = await _time(lambda: _asgi_post(app, body, token), 2000)
        label = "cache on (a Redis hit)" if settings.cache else "cache off"
        print(f"\n## small query through the ASGI app, SQL replayed, {label} (median ms)")
        print(f"| server's own time | {small_ms:.3f} |")
        if settings.cache:
            return
        cold = body.replace(b"limit: 10", b"limit: 11")
        state.runtime.documents._documents.clear()
        state.runtime.resolvers.service._compiled.clear()
        started = time.perf_counter()
        await _asgi_post(app, cold, token)
        cold_ms = (time.perf_counter() - started) * 1e3
        print(f"| first time a document is seen (parse, validate, plan, compile) | {cold_ms:.3f} |")


def _objects(value: Any) -> Any:
    if isinstance(value, dict):
        return SimpleNamespace(**{_snake(key): _objects(item) for key, item in value.items()})
    return value


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


if __name__ == "__main__":
    asyncio.run(main())
