"""Execution: compiled SQL on PostgreSQL through asyncpg, typed rows back.

The statement goes straight to the asyncpg connection of SQLAlchemy's pool: its
records need no per-row conversion, because the compiler casts every measure to the
type clients see (counts bigint, averages and ratios float8).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from resolvers.compiler import CompiledQuery
from resolvers.errors import ExecutionError, QueryTimeoutError


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: Sequence[Sequence[Any]]  # asyncpg Records: tuples in `columns` order


def create_engine(
    url: str,
    *,
    statement_timeout_ms: int,
    pool_size: int = 10,
    max_overflow: int = 5,
    pool_timeout_s: int = 10,
) -> AsyncEngine:
    """A bounded pool whose connections cancel any statement after the timeout."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {
                "statement_timeout": str(statement_timeout_ms),
                "application_name": "cohort",
            }
        },
    )


class Executor:
    def __init__(self, engine: AsyncEngine, observe: Callable[[float], None] | None = None) -> None:
        self.engine = engine
        self.observe = observe  # receives each statement's time in PostgreSQL, in seconds

    async def run(self, query: CompiledQuery) -> QueryResult:
        try:
            async with self.engine.connect() as conn:
                raw = await conn.get_raw_connection()
                connection: asyncpg.Connection = raw.driver_connection
                started = time.perf_counter()
                records = await connection.fetch(query.sql, *query.params)
                if self.observe is not None:
                    self.observe(time.perf_counter() - started)
        except asyncpg.QueryCanceledError as exc:
            raise QueryTimeoutError("the query ran past the statement timeout") from exc
        except (TimeoutError, asyncpg.PostgresError, OSError) as exc:
            raise ExecutionError(f"the database failed: {type(exc).__name__}") from exc
        return QueryResult(query.columns, records)

    async def scalar(self, sql: str) -> Any:
        """The single value of a trusted query from a model file (a refresh rule)."""
        try:
            async with self.engine.connect() as conn:
                raw = await conn.get_raw_connection()
                connection: asyncpg.Connection = raw.driver_connection
                return await connection.fetchval(sql)
        except asyncpg.QueryCanceledError as exc:
            raise QueryTimeoutError("the refresh query ran past the statement timeout") from exc
        except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
            raise ExecutionError(f"the database failed: {type(exc).__name__}") from exc
