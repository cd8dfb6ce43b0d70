"""The app factory: Starlette routes over the state the lifespan builds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from api.graphiql import graphiql_routes
from api.graphql_http import GraphQLEndpoint
from api.health import healthz, readyz
from api.metrics import Metrics
from api.reload import ModelWatcher
from api.runtime import Runtime, build_runtime
from api.settings import Settings
from resolvers.executor import Executor, create_engine
from schema.registry import Registry
from schema.validator import load_registry

log = logging.getLogger("cohort")

EXAMPLE_QUERY = """# Enrollments and completion by subject and month, in London time
query EnrollmentsBySubject {
  enrollments(
    where: { enrolledAt: { inDateRange: ["2025-01-01", "2025-06-30"] } }
    orderBy: [{ enrolledAt: ASC }, { count: DESC }]
    timezone: "Europe/London"
    limit: 50
  ) {
    enrolledAt { month }
    course { subject }
    count
    completionRate
  }
}
"""


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    executor: Executor
    runtime: Runtime
    log: logging.Logger = field(default=log)

    def apply(self, registry: Registry) -> None:
        self.runtime = build_runtime(registry, self.executor, self.settings.limits)


def create_app(settings: Settings, database_url: str) -> Starlette:
    """The ASGI app. `database_url` is resolved by the caller (real or embedded server)."""
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        registry = load_registry(settings.models_dir)
        engine = create_engine(
            database_url,
            statement_timeout_ms=settings.statement_timeout_ms,
            pool_size=settings.pool_size,
            max_overflow=settings.pool_max_overflow,
            pool_timeout_s=settings.pool_timeout_s,
        )
        executor = Executor(engine, observe=metrics.observe_sql)
        state = AppState(settings, engine, executor, build_runtime(registry, executor, settings.limits))
        app.state.cohort = state
        watcher: asyncio.Task[Any] | None = None
        if settings.reload_interval_s > 0:
            watcher = asyncio.create_task(
                ModelWatcher(settings.models_dir, state.apply, settings.reload_interval_s).run()
            )
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await engine.dispose()

    routes: list[BaseRoute] = [
        Route("/graphql", GraphQLEndpoint(settings.limits, metrics).handle, methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics.endpoint, methods=["GET"]),
    ]
    if settings.graphiql:
        routes += graphiql_routes("/graphql", EXAMPLE_QUERY)
    return Starlette(routes=routes, lifespan=lifespan)


def app_from_env() -> Starlette:
    """`uvicorn --factory api.app:app_from_env`: settings and DATABASE_URL from the environment
    (`cohort serve` starts the embedded database first and sets it for every worker)."""
    from api.services import asyncpg_url

    settings = Settings.from_env()
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL is not set; start the server with `cohort serve` or `make run`")
    return create_app(settings, asyncpg_url(settings.database_url))
