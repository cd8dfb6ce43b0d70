"""How every `cohort` command reaches PostgreSQL: the configured (or embedded) server, one
engine for the command, disposed of when it is done. A database that is down or frozen
ends the command within its timeouts with a one-line message and exit status 1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from resolvers.database import is_unavailable

T = TypeVar("T")


def with_engine(
    settings: Settings,
    work: Callable[[AsyncEngine], Awaitable[T]],
    services: Any = None,
    *,
    bulk: bool = False,
    state: bool = False,
) -> T:
    """Start (or find) the databases, run `work` on an engine, and clean up. The engine has
    the app's timeouts (a command gives up on a database that is down or frozen); `bulk`
    (loading the demo warehouse) lifts the per-command timeout, connecting stays bounded.
    `state`: Cohort's own database (COHORT_STATE_DATABASE_URL) rather than the warehouse."""
    from api.services import start_services
    from resolvers.executor import create_engine

    services = services or start_services(settings)

    async def main() -> T:
        url = services.state_database_url if state else services.database_url
        engine = create_engine(url, settings.database_timeouts, bulk=bulk)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except Exception as error:
        if not is_unavailable(error):
            raise
        Console(stderr=True).print(
            f"[red]the database is unreachable or did not answer in time[/red] ({type(error).__name__})"
        )
        raise typer.Exit(1) from None


def with_connection(
    dsn: str,
    work: Callable[[asyncpg.Connection], Awaitable[T]],
    *,
    connect_s: float,
    what: str,
    missing: str,
    **connect: Any,
) -> T:
    """Run `work` on one asyncpg connection to `dsn` (`what` names the database in messages),
    closed afterwards. A missing table ends the command with `missing` (how to create it), a
    database down or frozen with a one-line message; both exit with status 1."""

    async def main() -> T:
        conn = await asyncpg.connect(dsn, timeout=connect_s, **connect)
        try:
            return await work(conn)
        finally:
            await conn.close()

    notes = Console(stderr=True)
    try:
        return asyncio.run(main())
    except asyncpg.UndefinedTableError as error:
        notes.print(f"[red]{missing}[/red] ({error})")
        raise typer.Exit(1) from None
    except Exception as error:
        if not is_unavailable(error):
            raise
        notes.print(f"[red]{what} is unreachable[/red] ({type(error).__name__})")
        raise typer.Exit(1) from None
