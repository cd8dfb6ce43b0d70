"""Redis frozen for real (a private redis-server stopped with SIGSTOP: connections are
accepted by the kernel and nothing ever answers): requests still get their data from the
database within the Redis timeouts, rate limiting and caching fail open, and both resume
by themselves after SIGCONT."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from api.settings import Settings
from tests.faults import REDIS_SERVER, PrivateRedis
from tests.serving import serving
from tests.tokens import Mint

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not on PATH (needed to freeze Redis)"),
]

DEADLINE_S = 5.0  # far above the Redis timeouts (0.05 to 0.2 s): reaching it means a hang


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    yield server
    server.remove()


async def _post(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    async with asyncio.timeout(DEADLINE_S):
        response = await client.post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


async def test_a_frozen_redis_means_answers_from_the_database(
    settings: Settings, database_url: str, mint: Mint, redis_server: PrivateRedis
) -> None:
    configured = replace(settings, redis_url=redis_server.url, cache=True, rate_limit_per_minute=6_000)
    query = "{ enrollments(limit: 783) { status count } }"
    async with serving(configured, database_url, {"authorization": f"Bearer {mint()}"}) as client:
        state = client.app.state.cohort  # type: ignore[attr-defined]
        before = await _post(client, query)
        assert (await _post(client, query))["extensions"]["cache"]["enrollments"]["hit"] is True
        redis_server.freeze()
        try:
            during = await asyncio.gather(*(_post(client, query) for _ in range(20)))
        finally:
            redis_server.thaw()
        for body in during:
            assert body["data"] == before["data"]
            assert body["extensions"]["cache"]["enrollments"]["hit"] is False
        assert state.caching.cache.failures >= 1
        assert state.rate_limiter.failures >= 1
        for _ in range(50):  # the first answers after SIGCONT may still fill the cache
            if (await _post(client, query))["extensions"]["cache"]["enrollments"]["hit"]:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("caching did not resume after SIGCONT")
        failures = state.rate_limiter.failures
        await asyncio.sleep(1.1)  # past the limiter's cooldown
        response = await client.post("/graphql", json={"query": query})
        assert "ratelimit-remaining" in response.headers  # limiting resumed
        assert state.rate_limiter.failures == failures
