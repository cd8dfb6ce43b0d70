"""One statement per miss across app instances: two apps (two `create_app`, as two workers
or hosts would be) on one Redis and one PostgreSQL, each with its own single flight, share
a miss through the lease; with Redis down each answers from the database."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from tests.cache.requests import count_statements, post
from tests.databases import free_port, redis_url
from tests.resolvers.oracle import oracle
from tests.tokens import Mint

pytestmark = pytest.mark.integration

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def _apps(
    settings: Settings, database_url: str, stack: AsyncExitStack, count: int = 2
) -> list[Starlette]:
    apps = []
    for _ in range(count):
        app = create_app(settings, database_url)
        await stack.enter_async_context(app.router.lifespan_context(app))
        apps.append(app)
    return apps


@pytest.fixture
async def two_apps(settings: Settings, database_url: str) -> AsyncIterator[list[Starlette]]:
    keep: list[object] = []
    configured = replace(settings, redis_url=redis_url(keep), cache=True)
    async with AsyncExitStack() as stack:
        yield await _apps(configured, database_url, stack)


def _rows(body: dict[str, Any]) -> set[tuple[str, int]]:
    return {(row["eventType"], row["count"]) for row in body["data"]["progressEvents"]}


async def test_two_hundred_misses_over_two_apps_run_one_statement(
    two_apps: list[Starlette], mint: Mint, engine: AsyncEngine
) -> None:
    counts = [count_statements(app) for app in two_apps]
    token = mint()
    limit = secrets.randbelow(40_000) + 1_000  # a key no one has used
    query = f"{{ progressEvents(limit: {limit}) {{ eventType count }} }}"
    bodies = await asyncio.gather(*(post(two_apps[i % 2], query, token) for i in range(200)))
    assert sum(c[0] for c in counts) == 1, counts
    want = set(await oracle(engine, "select event_type, count(*) from progress_events group by 1"))
    assert want and all(_rows(body) == want for body in bodies)
    leases = [app.state.cohort.caching.leases for app in two_apps]
    assert sum(lease.acquired for lease in leases) == 1
    assert sum(lease.waited for lease in leases) == 1 and sum(lease.shared for lease in leases) == 1
    assert sum(lease.local for lease in leases) == 0


async def test_without_the_lease_each_app_runs_its_own(two_apps: list[Starlette], mint: Mint) -> None:
    """The control: the same burst with the lease made to fail open runs one statement per app,
    so the test above measures the lease, not timing luck."""
    counts = [count_statements(app) for app in two_apps]
    for app in two_apps:
        app.state.cohort.caching.leases._claim = None
    token = mint()
    query = f"{{ progressEvents(limit: {secrets.randbelow(40_000) + 1_000}) {{ eventType count }} }}"
    await asyncio.gather(*(post(two_apps[i % 2], query, token) for i in range(200)))
    assert [c[0] for c in counts] == [1, 1]


async def test_redis_down_means_every_caller_is_answered_from_the_database(
    settings: Settings, database_url: str, mint: Mint, engine: AsyncEngine
) -> None:
    configured = replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0", cache=True)
    async with AsyncExitStack() as stack:
        apps = await _apps(configured, database_url, stack)
        counts = [count_statements(app, delay_s=0.05) for app in apps]
        query = "{ progressEvents(limit: 784) { eventType count } }"
        started = time.monotonic()
        bodies = await asyncio.gather(*(post(apps[i % 2], query, mint()) for i in range(100)))
        assert time.monotonic() - started < 5.0  # never a hang
        want = set(await oracle(engine, "select event_type, count(*) from progress_events group by 1"))
        assert want and all(_rows(body) == want for body in bodies)
        assert all(body["extensions"]["cache"]["progressEvents"]["hit"] is False for body in bodies)
        assert 2 <= sum(c[0] for c in counts) <= 4  # each app's single flight still shares its own burst
        for app in apps:
            caching = app.state.cohort.caching
            assert caching.cache.failures >= 1 and caching.leases.acquired == 0
