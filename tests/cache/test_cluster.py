"""The result cache, the rate limiter and the app on a real 3-node Redis Cluster.

A module fixture starts three `redis-server` processes in cluster mode on free ports,
joins them with `redis-cli --cluster create` (no replicas) and kills them at the end.
Plain clients on each node count where keys landed: a cluster client only shows the
cluster as a whole.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from api.app import create_app
from api.rate_limit import KEY_PREFIX, RateLimiter, bucket_key, principal_key
from api.redis_client import connect_redis
from api.settings import Settings
from cache.keys import PREFIX, query_keys
from cache.result_cache import Cached, ResultCache
from tests.databases import free_ports

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None or REDIS_CLI is None,
    reason="redis-server and redis-cli must be on PATH to start a local Redis Cluster",
)

NODES = 3
START_S = 10.0  # each node answering PING
JOIN_S = 20.0  # cluster_state:ok on every node
GRAPHQL_RESPONSE = "application/graphql-response+json"


@dataclass(frozen=True)
class LocalCluster:
    ports: list[int]

    @property
    def url(self) -> str:  # one node is enough: the client discovers the others
        return f"redis://127.0.0.1:{self.ports[0]}"


def _cli(port: int, *args: str, timeout: float = 5.0) -> str:
    assert REDIS_CLI is not None
    done = subprocess.run(
        [REDIS_CLI, "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.stdout + done.stderr


def _wait(what: str, ready: Any, seconds: float, logs: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    output = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')}" for log in logs.glob("*.log"))
    pytest.fail(f"{what} within {seconds} s\n{output}")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
    for process in processes:
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    assert REDIS_SERVER is not None
    folder = tmp_path_factory.mktemp("redis-cluster")
    ports = free_ports(2 * NODES)  # a client port and a cluster bus port per node
    clients, buses = ports[:NODES], ports[NODES:]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port, bus in zip(clients, buses, strict=True):
            with (folder / f"redis-{port}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        [
                            REDIS_SERVER,
                            "--port",
                            str(port),
                            "--bind",
                            "127.0.0.1",
                            "--cluster-enabled",
                            "yes",
                            "--cluster-port",
                            str(bus),
                            "--cluster-config-file",
                            str(folder / f"nodes-{port}.conf"),
                            "--save",
                            "",
                            "--appendonly",
                            "no",
                            "--dir",
                            str(folder),
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        for port in clients:
            _wait(
                f"redis-server on port {port} did not answer",
                lambda p=port: "PONG" in _cli(p, "ping"),
                START_S,
                folder,
            )
        created = _cli(
            clients[0],
            "--cluster",
            "create",
            *(f"127.0.0.1:{port}" for port in clients),
            "--cluster-replicas",
            "0",
            "--cluster-yes",
            timeout=JOIN_S,
        )
        assert "[OK] All 16384 slots covered" in created, created

        def joined() -> bool:
            return all("cluster_state:ok" in _cli(port, "cluster", "info") for port in clients)

        _wait("the cluster was not ok on every node", joined, JOIN_S, folder)
        yield LocalCluster(clients)
    finally:
        _stop(processes)


@pytest.fixture(scope="module")
async def nodes(cluster: LocalCluster) -> AsyncIterator[list[Redis]]:
    """A plain client per node: what each node holds by itself."""
    clients = [Redis(host="127.0.0.1", port=port) for port in cluster.ports]
    yield clients
    for client in clients:
        await client.aclose()


@pytest.fixture(scope="module")
async def redis(cluster: LocalCluster) -> AsyncIterator[Any]:
    client = connect_redis(cluster.url, cluster=True, timeout_s=2.0)
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
async def empty(nodes: list[Redis]) -> None:
    for node in nodes:
        await node.flushall()


async def keys_on(node: Redis, pattern: str) -> set[bytes]:
    return {key async for key in node.scan_iter(match=pattern, count=1_000)}


async def keys_per_node(nodes: list[Redis], pattern: str) -> list[int]:
    return [len(await keys_on(node, pattern)) for node in nodes]


def ports(nodes: list[Redis]) -> list[int]:
    return [int(node.connection_pool.connection_kwargs["port"]) for node in nodes]


async def test_connect_redis_discovers_every_node(cluster: LocalCluster, redis: Any) -> None:
    assert isinstance(redis, RedisCluster)
    assert await redis.ping() is True
    assert sorted(node.port for node in redis.get_primaries()) == sorted(cluster.ports)
    info = await redis.cluster_info()
    assert info["cluster_state"] == "ok"
    assert int(info["cluster_known_nodes"]) == NODES


async def test_result_cache_round_trips_across_slots(redis: Any, nodes: list[Redis]) -> None:
    cache = ResultCache(redis, compress_above=512, timeout_s=2.0)
    values = {}
    for i in range(300):
        body = b'[{"count":%d,"subject":"Data Science"}]' % i
        if i % 10 == 0:
            body = b"[" + b",".join(b'{"n":%d}' % n for n in range(200)) + b"]"  # compressed
        values[query_keys("enrollments", "query", str(i)).result(("every:1",))] = Cached(
            body, None if i % 2 else 1_700_000_000.5
        )
    for key, value in values.items():
        assert await cache.set(key, value, ttl_s=60)
    for key, value in values.items():
        assert await cache.get(key) == value
    assert await cache.get(query_keys("enrollments", "never stored").result(())) is None
    assert (cache.hits, cache.misses, cache.failures) == (len(values), 1, 0)

    # The keys are spread over the slots, so every node holds some (a query's digest is its hash tag).
    counts = await keys_per_node(nodes, f"{PREFIX}*")
    assert sum(counts) == len(values)
    assert all(count > 0 for count in counts), counts
    slots = {await redis.cluster_keyslot(key) for key in values}
    assert len(slots) > 250
    held = [await keys_on(node, f"{PREFIX}*") for node in nodes]
    for key in list(values)[:30]:  # each key is on the node that owns its slot, and only there
        slot = await redis.cluster_keyslot(key)
        owner = redis.get_node_from_key(key).port
        assert await redis.cluster_countkeysinslot(slot) >= 1
        assert [key.encode() in keys for keys in held] == [port == owner for port in ports(nodes)]


async def test_flush_deletes_on_every_node(redis: Any, nodes: list[Redis]) -> None:
    cache = ResultCache(redis, timeout_s=2.0)
    for model, count in (("enrollments", 120), ("feedback", 80)):
        for i in range(count):
            assert await cache.set(query_keys(model, str(i)).result(()), Cached(b"[]", None), ttl_s=60)
    other = [f"other:{i}" for i in range(30)]  # not the cache's: never flushed
    for key in other:
        await redis.set(key, b"x")

    enrollments = await keys_per_node(nodes, f"{PREFIX}enrollments:*")
    assert sum(enrollments) == 120 and all(enrollments), enrollments
    assert await cache.flush(model="enrollments") == 120
    assert sum(await keys_per_node(nodes, f"{PREFIX}enrollments:*")) == 0
    feedback = await keys_per_node(nodes, f"{PREFIX}feedback:*")
    assert sum(feedback) == 80 and all(feedback), feedback

    for i in range(40):
        assert await cache.set(query_keys("courses", str(i)).result(()), Cached(b"[]", None), ttl_s=60)
    assert await cache.flush() == 120
    assert sum(await keys_per_node(nodes, f"{PREFIX}*")) == 0
    assert sum(await keys_per_node(nodes, "other:*")) == len(other)
    assert await cache.flush() == 0
    assert cache.failures == 0


async def test_rate_limiter_token_bucket_on_the_cluster(redis: Any, nodes: list[Redis]) -> None:
    limiter = RateLimiter(redis, per_minute=6, burst=3, timeout_s=2.0)  # a token per 10 s
    keys = [principal_key(f"user-{i}", "tenant-cluster") for i in range(12)]
    for key in keys:
        decisions = [await limiter.check(key) for _ in range(4)]
        assert [d.allowed for d in decisions] == [True, True, True, False], decisions
        assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
        assert decisions[3].retry_after_s == 10
        assert not any(d.degraded for d in decisions)
    assert limiter.failures == 0
    counts = await keys_per_node(nodes, f"{KEY_PREFIX}*")
    assert sum(counts) == len(keys) and all(counts), counts  # one bucket per key, on its slot's node

    # A node that lost its scripts (restart, SCRIPT FLUSH): redis-py loads the script again.
    for node in nodes:
        await node.script_flush()
    assert (await limiter.check(keys[0])).allowed is False
    fresh = principal_key("user-after-flush", "tenant-cluster")
    assert (await limiter.check(fresh)).allowed is True
    assert limiter.failures == 0 and limiter.degraded_checks == 0
    assert await redis.ttl(bucket_key(fresh)) > 0
    await limiter.aclose()


@pytest.mark.integration
async def test_app_caches_results_in_the_cluster(
    cluster: LocalCluster,
    nodes: list[Redis],
    settings: Settings,
    database_url: str,
    admin_headers: dict[str, str],
) -> None:
    app = create_app(replace(settings, redis_url=cluster.url, redis_cluster=True, cache=True), database_url)
    query = {"query": "{ enrollments(orderBy: [{count: DESC}], limit: 5) { course { subject } count } }"}
    async with app.router.lifespan_context(app):
        # The cluster client learns the slots on its first command; done here rather than inside
        # the cache's 0.1 s timeout, so that a slow machine cannot turn the first lookup into a miss.
        await app.state.cohort.caching.cache.redis.initialize()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://cohort.test",
            headers={"accept": GRAPHQL_RESPONSE, **admin_headers},
        ) as client:
            first = await client.post("/graphql", json=query)
            assert first.status_code == 200, first.text
            second = await client.post("/graphql", json=query)
            assert second.status_code == 200, second.text
        cache = app.state.cohort.caching.cache
        assert cache.failures == 0
    one, two = first.json(), second.json()
    assert "errors" not in one, one
    assert one["data"]["enrollments"], one
    assert one["extensions"]["cache"]["enrollments"]["hit"] is False
    assert two["extensions"]["cache"]["enrollments"]["hit"] is True
    assert two["data"] == one["data"]
    assert sum(await keys_per_node(nodes, f"{PREFIX}enrollments:*")) == 1
