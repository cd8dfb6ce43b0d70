"""One statement per miss across real server processes: two uvicorn processes (two hosts, as
far as they can tell) on one Redis and one PostgreSQL. Statements are counted by each
process's own `/metrics` (`cohort_sql_seconds_count`, observed by the executor per statement).
The query is slow by itself (`pg_sleep` in the model's SQL), so both processes miss together.
A holder killed in the middle of its statement leaves its lease to expire; the other process
takes over."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from tests.databases import free_port, redis_url
from tests.processes import GRAPHQL_RESPONSE, server_env, start, stop, wait_until_healthy
from tests.resolvers.oracle import oracle

pytestmark = pytest.mark.integration

SLEEP_S = 0.5
LEASE_MS = 1_000
SLOW_MODEL = """model: slow_courses
sql: "select c.* from courses c cross join pg_sleep(0.5)"
primary_key: id
refresh: {every: 3600}
dimensions:
  subject: {type: string}
measures:
  count: {type: count}
"""
HAND_WRITTEN = "select subject, count(*) from courses group by 1"


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log: Path


@pytest.fixture(scope="module")
def environment(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, settings: Settings
) -> Iterator[dict[str, str]]:
    keep: list[object] = []
    models = tmp_path_factory.mktemp("slow-models")
    (models / "slow_courses.yml").write_text(SLOW_MODEL)
    yield server_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url(keep),
        COHORT_MODELS_DIR=str(models),
        COHORT_RELOAD_INTERVAL_MS="0",
        COHORT_POLICY_RELOAD_MS="0",
        COHORT_RATE_LIMIT_PER_MINUTE="0",
        COHORT_CACHE_LEASE_MS=str(LEASE_MS),
        COHORT_JWT_SECRET=settings.auth.jwt_secret or "",
        COHORT_DATA_DIR=str(settings.data_dir),
    )


async def _serve(environment: dict[str, str], folder: Path, count: int) -> list[Server]:
    servers = []
    for _ in range(count):
        port = free_port()
        log = folder / f"uvicorn-{port}.log"
        servers.append(Server(start(port, environment, log), f"http://127.0.0.1:{port}", log))
    try:
        await asyncio.gather(*(wait_until_healthy(s.base, s.process, s.log) for s in servers))
    except BaseException:
        for server in servers:
            stop(server.process)
        raise
    return servers


@pytest.fixture(scope="module")
async def servers(
    environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[list[Server]]:
    started = await _serve(environment, tmp_path_factory.mktemp("servers"), 2)
    yield started
    for server in started:
        stop(server.process)


@pytest.fixture
async def redis(environment: dict[str, str]) -> AsyncIterator[Redis]:
    client = Redis.from_url(environment["REDIS_URL"], socket_timeout=5)
    yield client
    await client.aclose()


def _client(server: Server, headers: dict[str, str]) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base,
        timeout=15.0,
        headers={"accept": GRAPHQL_RESPONSE, **headers},
        limits=httpx.Limits(max_connections=100),
    )


async def metric(client: httpx.AsyncClient, name: str) -> float:
    text = (await client.get("/metrics")).text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def statements(client: httpx.AsyncClient) -> float:
    return await metric(client, "cohort_sql_seconds_count")


async def ask(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


def _rows(body: dict[str, Any]) -> set[tuple[str, int]]:
    return {(row["subject"], row["count"]) for row in body["data"]["slowCourses"]}


async def test_two_hundred_misses_over_two_processes_run_one_statement(
    servers: list[Server], admin_headers: dict[str, str], engine: AsyncEngine
) -> None:
    clients = [_client(server, admin_headers) for server in servers]
    try:
        before = [await statements(client) for client in clients]
        query = f"{{ slowCourses(limit: {secrets.randbelow(40_000) + 1_000}) {{ subject count }} }}"
        bodies = await asyncio.gather(*(ask(clients[i % 2], query) for i in range(200)))
        after = [await statements(client) for client in clients]
        assert sum(after) - sum(before) == 1, (before, after)
        want = set(await oracle(engine, HAND_WRITTEN))
        assert want and all(_rows(body) == want for body in bodies)
        # The process without the statement waited on the other's lease and got its result.
        waiter = clients[0] if after[0] == before[0] else clients[1]
        assert await metric(waiter, 'cohort_result_cache_leases{outcome="waited"}') >= 1
        assert await metric(waiter, 'cohort_result_cache_leases{outcome="shared"}') >= 1
    finally:
        for client in clients:
            await client.aclose()


async def test_a_killed_holders_lease_expires_and_the_other_process_takes_over(
    servers: list[Server],
    environment: dict[str, str],
    tmp_path: Path,
    admin_headers: dict[str, str],
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    (victim,) = await _serve(environment, tmp_path, 1)
    survivor = _client(servers[0], admin_headers)
    doomed = _client(victim, admin_headers)
    query = f"{{ slowCourses(limit: {secrets.randbelow(40_000) + 1_000}) {{ subject count }} }}"
    try:
        held = asyncio.create_task(doomed.post("/graphql", json={"query": query}))
        for _ in range(200):  # until the victim holds the lease (its statement is running)
            leases = [key async for key in redis.scan_iter(match="cohort:lease:slow_courses:*")]
            if leases:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the victim never took a lease")
        os.kill(victim.process.pid, signal.SIGKILL)
        before = await statements(survivor)
        started = time.monotonic()
        body = await ask(survivor, query)
        took = time.monotonic() - started
        assert _rows(body) == set(await oracle(engine, HAND_WRITTEN))
        assert await statements(survivor) - before == 1
        # It waited for the dead holder's lease (renewed every third of its length), no longer.
        assert LEASE_MS / 3000 + SLEEP_S - 0.1 <= took < LEASE_MS / 1000 + SLEEP_S + 2.0, took
        with pytest.raises(httpx.TransportError):
            await held
    finally:
        await survivor.aclose()
        await doomed.aclose()
        stop(victim.process)
