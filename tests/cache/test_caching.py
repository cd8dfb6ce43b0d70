"""The result cache: values, single flight, freshness, and the cache on the request path
against a real Redis (including one stopped in the middle of a test)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings
from cache.freshness import Freshness
from cache.result_cache import Cached, ResultCache, decode, encode
from cache.single_flight import SingleFlight
from schema.spec import Refresh
from tests.cache.requests import count_statements, post
from tests.databases import free_port, redis_url
from tests.tokens import Mint

GRAPHQL_RESPONSE = "application/graphql-response+json"
REDIS_SERVER = shutil.which("redis-server")


# --- values, single flight, freshness -------------------------------------------------


def test_values_round_trip_and_compress() -> None:
    small = Cached(b'[{"count":1}]', 1_700_000_000.5)
    assert decode(encode(small, compress_above=1_000)) == small
    big = Cached(b'[{"subject":"Data Science","count":12}]' * 1_000, None)
    packed = encode(big, compress_above=1_000)
    assert len(packed) < len(big.body) / 10
    assert decode(packed) == big


async def test_results_over_the_size_limit_are_not_cached() -> None:
    keep: list[object] = []
    from api.redis_client import connect_redis

    redis = connect_redis(redis_url(keep))
    cache = ResultCache(redis, max_bytes=100, compress_above=10_000)
    try:
        assert not await cache.set("cohort:result:test:big", Cached(b"x" * 200, None), 60)
        assert cache.too_large == 1
        assert await cache.get("cohort:result:test:big") is None
    finally:
        await redis.aclose()


async def test_single_flight_runs_the_work_once_for_concurrent_callers() -> None:
    flights = SingleFlight()
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return 42

    results = await asyncio.gather(*(flights.run("k", work) for _ in range(200)))
    assert results == [42] * 200 and calls == 1 and len(flights) == 0
    assert await flights.run("k", work) == 42 and calls == 1  # just after: the result lingers
    assert await flights.run("k", work, fresh=True) == 42 and calls == 2  # renew: runs again
    later = SingleFlight(linger_s=0)
    await later.run("k", work)
    await later.run("k", work)
    assert calls == 4  # without lingering, every call after a flight runs the work

    async def failing() -> int:
        await asyncio.sleep(0.01)
        raise RuntimeError("database down")

    outcomes = await asyncio.gather(*(flights.run("f", failing) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)


async def test_freshness_tokens() -> None:
    now = [1_000.0]
    values = iter([1, 1, 2])
    runs = 0

    async def scalar(sql: str) -> int:
        nonlocal runs
        runs += 1
        return next(values)

    freshness = Freshness(scalar, clock=lambda: now[0])
    every = Refresh(every=60, ttl=3600)
    first = await freshness.token("courses", every)
    assert first.ttl_s <= 61 and first.data_as_of == 960.0
    now[0] += 59
    assert (await freshness.token("courses", every)).value != first.value  # a new period

    rule = Refresh(sql="select max(id) from feedback", check_every=30)
    a = await freshness.token("feedback", rule)
    now[0] += 10
    assert (await freshness.token("feedback", rule)).value == a.value and runs == 1  # not checked again yet
    now[0] += 30
    b = await freshness.token("feedback", rule)
    assert b.value == a.value and runs == 2 and b.data_as_of == a.data_as_of  # checked, unchanged
    now[0] += 30
    c = await freshness.token("feedback", rule)
    assert c.value != a.value and c.data_as_of == now[0]  # new data: a new token, so new cache keys


# --- the cache on the request path ------------------------------------------------------


@pytest.fixture
async def cached_app(settings: Settings, database_url: str) -> AsyncIterator[Starlette]:
    keep: list[object] = []
    app = create_app(replace(settings, redis_url=redis_url(keep), cache=True), database_url)
    async with app.router.lifespan_context(app):
        # Entries of an earlier run have the same keys (same data, models and policy).
        await app.state.cohort.caching.cache.flush()
        yield app


async def test_a_repeat_is_a_hit_with_the_same_data(cached_app: Starlette, mint: Mint) -> None:
    token = mint(tenant="northbridge-university", roles=["university_admin"])
    query = "{ enrollments(limit: 777) { course { subject } count } }"
    first = await post(cached_app, query, token)
    second = await post(cached_app, query, token)
    assert first["extensions"]["cache"]["enrollments"]["hit"] is False
    assert second["extensions"]["cache"]["enrollments"]["hit"] is True
    assert second["data"] == first["data"] and first["data"]["enrollments"]
    renewed = await post(cached_app, query.replace("limit: 777", "limit: 777, renew: true"), token)
    assert renewed["extensions"]["cache"]["enrollments"]["hit"] is False
    assert renewed["data"] == first["data"]


async def test_two_hundred_concurrent_misses_run_one_statement(cached_app: Starlette, mint: Mint) -> None:
    calls = count_statements(cached_app)
    token = mint()
    limit = secrets.randbelow(40_000) + 1_000  # a key no one has used
    query = f"{{ progressEvents(limit: {limit}) {{ eventType count }} }}"
    bodies = await asyncio.gather(*(post(cached_app, query, token) for _ in range(200)))
    assert "errors" not in bodies[0], bodies[0]["errors"]
    assert bodies[0]["data"]["progressEvents"]
    assert calls[0] == 1
    assert all(body["data"] == bodies[0]["data"] for body in bodies)


async def test_tenants_never_share_an_entry(cached_app: Starlette, mint: Mint) -> None:
    query = "{ enrollments(limit: 778) { count } }"
    north = await post(cached_app, query, mint(tenant="northbridge-university", roles=["university_admin"]))
    other = await post(cached_app, query, mint(tenant="aurora-polytechnic", roles=["university_admin"]))
    assert other["extensions"]["cache"]["enrollments"]["hit"] is False
    assert north["data"] != other["data"]


async def test_a_policy_change_means_new_keys(cached_app: Starlette, mint: Mint) -> None:
    token = mint()
    query = "{ courses(limit: 779) { count } }"
    await post(cached_app, query, token)
    assert (await post(cached_app, query, token))["extensions"]["cache"]["courses"]["hit"] is True
    policies = cached_app.state.cohort.policies
    policies.current = replace_version(policies.current, policies.current.version + 1)
    assert (await post(cached_app, query, token))["extensions"]["cache"]["courses"]["hit"] is False


def replace_version(enforcer: Any, version: int) -> Any:
    enforcer.version = version
    return enforcer


async def test_cache_flush_cli(
    cached_app: Starlette, mint: Mint, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = mint()
    query = "{ feedback(limit: 780) { responses } }"
    await post(cached_app, query, token)
    keep: list[object] = []
    monkeypatch.setenv("REDIS_URL", redis_url(keep))
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["cache", "flush", "--model", "feedback"])
    assert result.exit_code == 0, result.output
    assert "deleted" in result.output and "of feedback" in result.output
    assert (await post(cached_app, query, token))["extensions"]["cache"]["feedback"]["hit"] is False


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[int, Any]]:
    if REDIS_SERVER is None:
        pytest.skip("the redis-server binary is not on PATH (needed to stop Redis mid-test)")
    port = free_port()

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return process
            time.sleep(0.05)
        process.kill()
        raise RuntimeError("redis-server did not start")

    processes = [start()]
    yield port, lambda: processes.append(start())
    for process in processes:
        process.kill()
        process.wait(timeout=10)


async def test_redis_stopped_mid_test_means_answers_from_the_database(
    settings: Settings, database_url: str, mint: Mint, own_redis: tuple[int, Any]
) -> None:
    port, restart = own_redis
    app = create_app(replace(settings, redis_url=f"redis://127.0.0.1:{port}/0", cache=True), database_url)
    token = mint()
    query = "{ enrollments(limit: 781) { status count } }"
    async with app.router.lifespan_context(app):
        cache = app.state.cohort.caching.cache
        before = await post(app, query, token)
        assert (await post(app, query, token))["extensions"]["cache"]["enrollments"]["hit"] is True
        await asyncio.to_thread(
            subprocess.run,
            ["redis-cli", "-p", str(port), "shutdown", "nosave"],
            check=False,
            capture_output=True,
        )
        await asyncio.sleep(0.1)
        started = time.monotonic()
        during = await post(app, query, token)
        assert time.monotonic() - started < 2.0  # no hang
        assert during["data"] == before["data"]
        assert during["extensions"]["cache"]["enrollments"]["hit"] is False
        assert cache.failures >= 1
        restart()
        await post(app, query, token)  # fills the new Redis
        for _ in range(20):
            if (await post(app, query, token))["extensions"]["cache"]["enrollments"]["hit"]:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("caching did not resume after Redis came back")


async def test_two_warehouses_sharing_a_redis_never_share_entries(cached_app: Starlette, mint: Mint) -> None:
    """Staging and production (or two test runs) sharing a Redis: same query, models and
    policy, another database, so other keys."""
    from api.app import _warehouse_identity

    staging = _warehouse_identity("postgresql+asyncpg://cohort:secret@db.internal:5432/staging")
    production = _warehouse_identity("postgresql+asyncpg://cohort:secret@db.internal:5432/production")
    assert staging != production and "secret" not in staging
    query = "{ courses(limit: 782) { count } }"
    await post(cached_app, query, mint())
    assert (await post(cached_app, query, mint()))["extensions"]["cache"]["courses"]["hit"] is True
    caching = cached_app.state.cohort.caching
    caching.namespace, original = production, caching.namespace
    try:
        assert (await post(cached_app, query, mint()))["extensions"]["cache"]["courses"]["hit"] is False
    finally:
        caching.namespace = original
