"""The app factory: Starlette routes over the state the lifespan builds."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from api.auth.authenticator import Authenticator
from api.embed.cors import EmbedCors
from api.embed.routes import embed_routes
from api.export_csv import CsvExport
from api.graphiql import graphiql_routes
from api.graphql_http import GraphQLEndpoint
from api.health import healthz, readyz
from api.ingest.endpoint import IngestEndpoint
from api.ingest.service import Ingestion
from api.metrics import Metrics
from api.rate_limit import RateLimiter
from api.redis_client import connect_redis
from api.reload import ModelWatcher
from api.response_cache import ResponseCache
from api.runtime import Runtime, build_runtime
from api.settings import Settings
from authz.audit import Audit
from authz.authorizer import Authorizer
from authz.enforcer import PolicyEnforcer
from authz.policy_store import PolicyHolder, PolicyStore
from cache.freshness import Freshness
from cache.result_cache import ResultCache
from resolvers.caching import ResultCaching
from resolvers.executor import Executor, create_engine
from resolvers.rollups.catalog import RollupCatalog
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
    authenticator: Authenticator
    authorizer: Authorizer
    policies: PolicyHolder
    rate_limiter: RateLimiter
    caching: ResultCaching
    responses: ResponseCache
    runtime: Runtime
    log: logging.Logger = field(default=log)

    rollups: RollupCatalog | None = None

    def apply(self, registry: Registry) -> None:
        self.runtime = build_runtime(
            registry, self.executor, self.authorizer, self.settings.limits, self.caching, self.rollups
        )


def _background(coroutines: list[Any]) -> list[asyncio.Task[Any]]:
    return [asyncio.create_task(coroutine) for coroutine in coroutines]


async def _stop(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _warehouse_identity(database_url: str) -> str:
    """Host, port and database of the warehouse (never the password), for cache keys."""
    url = make_url(database_url)
    return f"{url.host or url.query.get('host', '')}:{url.port or ''}/{url.database or ''}"


def create_app(
    settings: Settings,
    database_url: str,
    state_database_url: str | None = None,
    ingest_database_url: str | None = None,
) -> Starlette:
    """The ASGI app. `database_url` (the warehouse) is resolved by the caller (real or
    embedded server); Cohort's own state is in `state_database_url` when it is set apart, so
    that the warehouse connection can be a role that may only read; ingested events are
    written to `ingest_database_url` (default: `settings.ingest.database_url`, else the
    warehouse's database)."""
    if ingest_database_url is None and settings.ingest.database_url:
        from api.services import asyncpg_url

        ingest_database_url = asyncpg_url(settings.ingest.database_url)
    metrics = Metrics()
    events = IngestEndpoint(metrics.registry)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        registry = load_registry(settings.models_dir, settings.dashboards)
        timeouts = settings.database_timeouts
        engine = create_engine(
            database_url, timeouts, pool_size=settings.pool_size, max_overflow=settings.pool_max_overflow
        )
        executor = Executor(engine, observe=metrics.observe_sql, timeouts=timeouts)
        state_engine = (
            create_engine(state_database_url, timeouts, pool_size=settings.pool_size)
            if state_database_url and state_database_url != database_url
            else engine
        )
        audit = Audit(on_denial=lambda kind: metrics.denials.labels(kind).inc())
        authenticator = Authenticator.from_settings(settings, state_engine, audit)
        store = PolicyStore(state_engine, timeout_s=timeouts.lookup_s)
        try:
            policies = PolicyHolder(store, await store.load())
        except Exception:  # no database yet: deny everything until the policy can be read
            log.exception("could not load the access policy; every query is denied until it loads")
            policies = PolicyHolder(store, PolicyEnforcer([], version=-1))
        authorizer = Authorizer(policies, audit, default_cost_budget=settings.query_cost_budget or None)
        redis = (
            connect_redis(settings.redis_url, cluster=settings.redis_cluster) if settings.redis_url else None
        )
        if redis is not None and settings.redis_cluster:
            # Learn the slot map now, not in the first request's (timed) cache or limit call.
            try:
                async with asyncio.timeout(2):
                    await redis.initialize()
            except Exception:
                log.warning("the Redis Cluster did not answer at start-up; cache and limits fail open")
        limiter = RateLimiter(redis, settings.rate_limit_per_minute, settings.rate_limit_burst)
        metrics.watch_rate_limiter(limiter)
        cache = ResultCache(
            redis if settings.cache else None,
            max_bytes=settings.cache_max_bytes,
            compress_above=settings.cache_compress_above,
        )
        caching = ResultCaching(
            cache,
            Freshness(executor.scalar),
            namespace=_warehouse_identity(database_url),
            stale_s=settings.cache_stale_s,
            lease_ms=settings.cache_lease_ms,
            # A holder renews its lease until its statement ends: a wait longer than that is a bug.
            lease_wait_s=timeouts.run_s + settings.cache_lease_ms / 1000,
        )
        responses = ResponseCache(redis if settings.cache else None, caching.freshness)
        metrics.watch_responses(responses)
        metrics.watch_cache(caching)
        rollups = None
        if settings.rollups.enabled:
            rollups = RollupCatalog(executor.rows)
            await rollups.load()
            metrics.watch_rollups(rollups)
        runtime = build_runtime(registry, executor, authorizer, settings.limits, caching, rollups)
        state = AppState(
            settings,
            engine,
            executor,
            authenticator,
            authorizer,
            policies,
            limiter,
            caching,
            responses,
            runtime,
            rollups=rollups,
        )
        app.state.cohort = state
        tasks = []
        if settings.reload_interval_s > 0:
            watcher = ModelWatcher(
                settings.models_dir, state.apply, settings.reload_interval_s, registry, settings.dashboards
            )
            tasks.append(watcher.run())
        if settings.policy_reload_interval_s > 0:
            tasks.append(policies.watch(settings.policy_reload_interval_s))
        if rollups is not None:
            tasks.append(rollups.watch(settings.rollups.poll_s))
        ingestion = None
        if settings.ingest.enabled:
            ingestion = await Ingestion.open(settings.ingest, ingest_database_url or database_url, timeouts)
            ingestion.start()
        app.state.ingestion = ingestion
        events.open(ingestion)
        running = _background(tasks)
        # What start-up built lives as long as the process: out of the collector's way, so that
        # full collections under load (up to 60 ms with it) only walk what requests allocate.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if ingestion is not None:
                await ingestion.close()  # the batches waiting are committed first
            events.close()
            await _stop(running)
            await caching.aclose()
            await limiter.aclose()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()
            if state_engine is not engine:
                await state_engine.dispose()

    routes: list[BaseRoute] = [
        Route("/graphql", GraphQLEndpoint(settings.limits, metrics).handle, methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics.endpoint, methods=["GET"]),
        Route("/export.csv", CsvExport(settings.limits, settings.export).handle, methods=["POST"]),
        *embed_routes(),
        Route("/events", events.handle, methods=["POST"]),
    ]
    if settings.graphiql:
        routes += graphiql_routes("/graphql", EXAMPLE_QUERY)
    middleware = [Middleware(EmbedCors, origins=settings.embed.origins)]
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)


def _log_to_stderr() -> None:
    """Cohort's own log lines (model reloads, policy reloads, denials) on stderr at INFO,
    unless whoever runs the app configured the `cohort` logger already."""
    cohort = logging.getLogger("cohort")
    if not cohort.handlers and cohort.level == logging.NOTSET:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        cohort.addHandler(handler)
        cohort.setLevel(logging.INFO)


def app_from_env() -> Starlette:
    """`uvicorn --factory api.app:app_from_env`: settings and DATABASE_URL from the environment
    (`cohort serve` starts the embedded database first and sets it for every worker)."""
    from api.services import asyncpg_url

    _log_to_stderr()
    settings = Settings.from_env()
    if not settings.access_log:
        logging.getLogger("cohort.access").setLevel(logging.WARNING)
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL is not set; start the server with `cohort serve` or `make run`")
    state = asyncpg_url(settings.state_database_url) if settings.state_database_url else None
    return create_app(settings, asyncpg_url(settings.database_url), state)
