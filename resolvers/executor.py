"""Execution: compiled SQL on PostgreSQL through asyncpg, typed rows back.

The statement goes straight to the asyncpg connection of SQLAlchemy's pool: its
records need no per-row conversion, because the compiler casts every measure to the
type clients see (counts bigint, averages and ratios float8). Every call is bounded in
time (resolvers/database.py): a database that is down or frozen is a
`SERVICE_UNAVAILABLE` error within seconds, a statement past the timeout a `TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from resolvers.compiler import CompiledQuery
from resolvers.cost import CostEstimates, within_budget
from resolvers.database import DatabaseTimeouts, DatabaseUnavailable, bounded, is_unavailable, unavailable
from resolvers.errors import ExecutionError, QueryError, QueryTimeoutError


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: Sequence[Sequence[Any]]  # asyncpg Records: tuples in `columns` order


def query_failure(exc: Exception, timeouts: DatabaseTimeouts) -> Exception:
    """The client-facing error for a query that failed in (or on the way to) PostgreSQL; other
    exceptions as they are."""
    if isinstance(exc, asyncpg.QueryCanceledError):
        return QueryTimeoutError("the query ran past the statement timeout")
    if isinstance(exc, asyncpg.DataError):
        # A client value that the column's own type refuses (`not-a-uuid` for a uuid
        # column bound untyped): the message names the type and the client's value only.
        return QueryError(f"a filter value does not fit its column: {exc.args[0]}")
    if is_unavailable(exc):
        return unavailable(exc, "the query did not run", timeouts)
    if isinstance(exc, asyncpg.PostgresError):
        return ExecutionError(f"the database failed: {type(exc).__name__}")
    return exc


def create_engine(
    url: str,
    timeouts: DatabaseTimeouts | None = None,
    *,
    pool_size: int = 10,
    max_overflow: int = 5,
    bulk: bool = False,
) -> AsyncEngine:
    """A bounded pool whose connections time out (see resolvers/database.py); broken
    connections are replaced at checkout (pre-ping). `bulk`: no client-side command timeout,
    for loading data."""
    timeouts = timeouts or DatabaseTimeouts()
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=timeouts.pool_s,
        pool_pre_ping=True,
        connect_args=timeouts.connect_args(bulk=bulk),
    )


class Executor:
    def __init__(
        self,
        engine: AsyncEngine,
        observe: Callable[[float], None] | None = None,
        timeouts: DatabaseTimeouts | None = None,
    ) -> None:
        self.engine = engine
        self.observe = observe  # receives each statement's time in PostgreSQL, in seconds
        self.timeouts = timeouts or DatabaseTimeouts()
        self.costs = CostEstimates()

    async def run(self, query: CompiledQuery, budget: float | None = None) -> QueryResult:
        """The query's rows. With a `budget`, PostgreSQL's cost estimate (cached per statement
        and parameters) must not be over it: QueryTooExpensive, before anything runs."""
        timeouts = self.timeouts
        known = self.costs.known(query) if budget is not None else None
        if known is not None and budget is not None:
            within_budget(known, budget)  # a known refusal takes no connection
        try:
            # The last resort: each step below has a timeout of its own.
            async with asyncio.timeout(timeouts.run_s):
                async with self.engine.connect() as conn:
                    raw = await conn.get_raw_connection()
                    connection: asyncpg.Connection = raw.driver_connection
                    try:
                        if budget is not None and known is None:
                            within_budget(await self.costs.cost(connection, query, timeouts.query_s), budget)
                        started = time.perf_counter()
                        records = await connection.fetch(query.sql, *query.params, timeout=timeouts.query_s)
                    except TimeoutError:
                        connection.terminate()  # the server is frozen or lost: drop it, now
                        raise
                    if self.observe is not None:
                        self.observe(time.perf_counter() - started)
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            failure = query_failure(exc, timeouts)
            if failure is exc:
                raise
            raise failure from exc
        return QueryResult(query.columns, records)

    async def scalar(self, sql: str) -> Any:
        """The single value of a trusted query from a model file (a refresh rule), within
        the lookup timeout."""
        rows = await self.rows(sql)
        return rows[0][0] if rows else None

    async def rows(self, sql: str) -> list[asyncpg.Record]:
        """The rows of a trusted query (a refresh rule, the rollups' state), within the lookup
        timeout."""
        try:
            async with bounded(self.engine, self.timeouts, "a freshness check failed") as conn:
                raw = await conn.get_raw_connection()
                connection: asyncpg.Connection = raw.driver_connection
                records: list[asyncpg.Record] = await connection.fetch(sql)
                return records
        except asyncpg.QueryCanceledError as exc:
            raise QueryTimeoutError("the refresh query ran past the statement timeout") from exc
        except asyncpg.PostgresError as exc:
            raise ExecutionError(f"the database failed: {type(exc).__name__}") from exc
