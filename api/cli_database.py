"""How every `cohort` command reaches PostgreSQL: the configured (or embedded) server, one
engine for the command, disposed of when it is done."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings

T = TypeVar("T")


def with_engine(
    settings: Settings,
    work: Callable[[AsyncEngine], Awaitable[T]],
    services: Any = None,
    *,
    bulk: bool = False,
) -> T:
    """Start (or find) the databases, run `work` on an engine, and clean up. The engine has
    the app's timeouts (a command gives up on a database that is down or frozen); `bulk`
    (loading the demo warehouse) lifts the per-command timeout, connecting stays bounded."""
    from api.services import start_services
    from resolvers.executor import create_engine

    services = services or start_services(settings)

    async def main() -> T:
        engine = create_engine(services.database_url, settings.database_timeouts, bulk=bulk)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())
