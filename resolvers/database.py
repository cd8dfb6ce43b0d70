"""Every call to PostgreSQL is bounded in time, and a fault is a clear error.

A server that is down refuses connections at once; a frozen one (stopped, or cut off by
the network) accepts them in the kernel and never answers, so nothing but a client-side
timeout ends the wait. The limits, all settings (see `DatabaseTimeouts`):

- connecting (asyncpg `timeout`): `connect_s`;
- every command without a limit of its own (the pool's pre-ping, rollbacks, API token and
  policy lookups, freshness checks, the cancel request sent for a timed-out query):
  asyncpg `command_timeout`, `command_s`;
- a query: PostgreSQL's `statement_timeout` (`statement_s`) cancels it on the server; the
  client gives up `command_s` later (a frozen server cancels nothing);
- waiting for a free pooled connection: SQLAlchemy `pool_timeout`, `pool_s`;
- and, as a last resort, an `asyncio.timeout` around each call (`bounded`).

A connection that broke or timed out is invalidated by the pool (never handed out again);
the pre-ping replaces pooled connections that died while idle, so the app recovers by
itself when the server is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from resolvers.errors import ResolverError

log = logging.getLogger("cohort.database")
_WARN_EVERY_S = 30.0
_last_warning = [float("-inf")]


class DatabaseUnavailable(ResolverError):
    """PostgreSQL refused, dropped or did not answer in time; retrying later may work."""

    code = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class DatabaseTimeouts:
    connect_s: float = 2.0
    command_s: float = 2.0
    statement_s: float = 15.0
    pool_s: float = 10.0
    lookup_s: float = 3.0  # the whole of one of Cohort's own small lookups, pool wait included
    # PostgreSQL's JIT compiles a statement whose estimated cost is high, which a rollup's
    # (with its exact fallback) often is: 250-400 ms on this machine, more than the dashboard
    # query itself. Off unless asked for (COHORT_DB_JIT): long raw scans may gain from it.
    jit: bool = False

    def __post_init__(self) -> None:
        for name in ("connect_s", "command_s", "statement_s", "pool_s", "lookup_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")

    @property
    def query_s(self) -> float:
        """How long the client waits for a query's rows: the server cancels it first."""
        return self.statement_s + self.command_s

    @property
    def checkout_s(self) -> float:
        """The longest a checkout can take: the pool wait, a pre-ping (and its rollback)
        that time out, and a new connection."""
        return self.pool_s + 2 * self.command_s + self.connect_s

    @property
    def run_s(self) -> float:
        """The longest a query can take in all (the executor's last resort): a checkout, the
        cost estimate and the statement."""
        return self.checkout_s + self.query_s + self.command_s

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.connect_s))

    def connect_args(self, *, bulk: bool = False) -> dict[str, Any]:
        """asyncpg's connect arguments. `bulk`: no client-side command timeout (loading the
        demo warehouse runs statements for minutes; connecting is still bounded)."""
        return {
            "timeout": self.connect_s,
            "command_timeout": None if bulk else self.command_s,
            "server_settings": {
                "statement_timeout": str(round(self.statement_s * 1000)),
                "application_name": "cohort",
                "jit": "on" if self.jit else "off",
            },
        }


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error, what it wraps (SQLAlchemy's `.orig`) and what caused it, a few levels deep."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending and len(seen) < 12:
        current = pending.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        yield current
        orig = getattr(current, "orig", None)
        pending += [
            orig if isinstance(orig, BaseException) else None,
            current.__cause__,
            current.__context__,
        ]


_UNAVAILABLE = (
    TimeoutError,  # asyncio and asyncpg timeouts
    OSError,  # refused, reset, unreachable
    sa_exc.TimeoutError,  # no pooled connection free within pool_timeout
    asyncpg.exceptions.ConnectionDoesNotExistError,  # dropped mid-command
    asyncpg.exceptions.PostgresConnectionError,  # class 08
    asyncpg.exceptions.CannotConnectNowError,  # starting up or shutting down
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database could not be reached or did not answer in time
    (rather than a fault in the statement)."""
    for cause in _causes(error):
        if isinstance(cause, asyncpg.QueryCanceledError):
            return False  # the statement timeout: the server answers
        if isinstance(cause, _UNAVAILABLE):
            return True
        if isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated:
            return True
    return False


def unavailable(error: BaseException, what: str, timeouts: DatabaseTimeouts) -> DatabaseUnavailable:
    """The client-facing error for a database fault (the cause is kept for the logs)."""
    for cause in _causes(error):
        if isinstance(cause, sa_exc.TimeoutError):
            message = f"{what}: no database connection was free within {timeouts.pool_s:g} s"
            break
        if isinstance(cause, TimeoutError):
            message = f"{what}: the database did not answer in time"
            break
    else:
        message = f"{what}: the database is unreachable"
    now = time.monotonic()
    if now - _last_warning[0] >= _WARN_EVERY_S:  # at most one warning every 30 s
        _last_warning[0] = now
        log.warning("database unavailable: %s (%s: %s)", message, type(error).__name__, error)
    return DatabaseUnavailable(f"{message}; try again shortly", timeouts.retry_after_s)


@contextlib.asynccontextmanager
async def bounded(
    engine: AsyncEngine, timeouts: DatabaseTimeouts, what: str, *, timeout_s: float | None = None
) -> AsyncIterator[AsyncConnection]:
    """A pooled connection for one of Cohort's own lookups, all of it (checkout included)
    within `timeout_s` (default `timeouts.lookup_s`); a database fault is raised as
    `DatabaseUnavailable`, anything else as it is."""
    try:
        async with asyncio.timeout(timeout_s or timeouts.lookup_s), engine.connect() as conn:
            yield conn
    except DatabaseUnavailable:
        raise
    except Exception as error:
        if is_unavailable(error):
            raise unavailable(error, what, timeouts) from error
        raise
