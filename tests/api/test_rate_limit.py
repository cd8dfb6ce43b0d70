"""The per-principal token bucket (api/rate_limit.py) against a real Redis.

Small numbers keep the waits short: 600 per minute is one token every 0.1 s, and a burst
of 3. Each test uses its own key. The failure tests start their own `redis-server` on a
free port and kill it mid-test, or talk to a TCP server that never answers.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError

from api.rate_limit import (
    KEY_PREFIX,
    UNLIMITED,
    Decision,
    RateLimiter,
    bucket_key,
    principal_key,
    redis_client,
)
from tests.databases import free_port, redis_url

PER_MINUTE = 600  # 10 tokens per second
BURST = 3
TOKEN_S = 60 / PER_MINUTE
REDIS_SERVER = shutil.which("redis-server")
needs_redis_server = pytest.mark.skipif(
    REDIS_SERVER is None, reason="the redis-server binary is not on PATH (needed to kill and restart Redis)"
)


def unique_key() -> str:
    return principal_key(f"user-{uuid.uuid4().hex}", "tenant-test")


async def timed_check(limiter: RateLimiter, key: str) -> tuple[Decision, float]:
    started = time.perf_counter()
    decision = await limiter.check(key)
    return decision, time.perf_counter() - started


async def take(limiter: RateLimiter, key: str, count: int) -> list[Decision]:
    return [await limiter.check(key) for _ in range(count)]


@pytest.fixture(scope="session")
def shared_url() -> Iterator[str]:
    keep: list[object] = []
    yield redis_url(keep)
    keep.clear()


@pytest.fixture
async def shared_redis(shared_url: str) -> AsyncIterator[Redis]:
    client = redis_client(shared_url)
    yield client
    await client.aclose()


@pytest.fixture
async def limiter(shared_redis: Redis) -> AsyncIterator[RateLimiter]:
    limiter = RateLimiter(shared_redis, PER_MINUTE, BURST)
    yield limiter
    await limiter.aclose()


class RedisServer:
    """A throwaway redis-server on a fixed port (and a unix socket), killed and restarted at will."""

    def __init__(self) -> None:
        assert REDIS_SERVER is not None
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="cohort-rl-"))  # short: unix socket paths are limited
        self.socket = self.folder / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None and self.process is None
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("redis-server did not answer within 5 s")
            time.sleep(0.01)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=5)
            self.process = None

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.remove()


# --- limiting -------------------------------------------------------------------------------


async def test_a_burst_then_the_next_request_is_refused_with_headers(limiter: RateLimiter) -> None:
    key = unique_key()
    first, second, third = await take(limiter, key, BURST)
    refused = await limiter.check(key)

    assert [d.allowed for d in (first, second, third)] == [True, True, True]
    assert [d.remaining for d in (first, second, third)] == [2, 1, 0]
    assert not any(d.degraded for d in (first, second, third, refused))
    assert first.headers() == {"RateLimit-Limit": "3", "RateLimit-Remaining": "2", "RateLimit-Reset": "1"}
    assert third.retry_after_s is None and "Retry-After" not in third.headers()

    assert not refused.allowed
    assert refused.limit == BURST and refused.remaining == 0
    assert refused.retry_after_s is not None and refused.retry_after_s >= 1
    assert 0 < refused.reset_s <= BURST * TOKEN_S
    assert refused.headers() == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "1",  # the bucket is full again within 0.3 s: rounded up
        "Retry-After": "1",
    }


async def test_tokens_come_back_with_time(shared_redis: Redis) -> None:
    # A slower bucket than the other tests': a busy machine must not refill a second
    # token between two checks that are meant to be back to back.
    per_minute, burst = 240, 2
    token_s = 60 / per_minute
    limiter = RateLimiter(shared_redis, per_minute, burst)
    key = unique_key()
    try:
        await take(limiter, key, burst)
        assert not (await limiter.check(key)).allowed

        await asyncio.sleep(token_s * 1.2)  # one token back, not two
        assert (await limiter.check(key)).allowed
        assert not (await limiter.check(key)).allowed

        await asyncio.sleep(token_s * (burst + 1))  # full again, and no more than full
        refilled = await take(limiter, key, burst + 1)
        assert [d.allowed for d in refilled] == [True, True, False]
        assert refilled[0].remaining == burst - 1
    finally:
        await limiter.aclose()


async def test_keys_are_independent(limiter: RateLimiter) -> None:
    busy, quiet = unique_key(), unique_key()
    await take(limiter, busy, BURST)
    assert not (await limiter.check(busy)).allowed
    decision = await limiter.check(quiet)
    assert decision.allowed and decision.remaining == BURST - 1


async def test_the_bucket_is_shared_by_app_servers(shared_url: str) -> None:
    """Two limiters on two clients (two app servers) take from the same bucket. Sharing is
    what is tested, not speed: generous timeouts, so that a busy suite's event loop (each
    first call connects and loads the script) cannot turn a decision into a fail-open."""
    key = unique_key()
    first, second = redis_client(shared_url, timeout_s=2), redis_client(shared_url, timeout_s=2)
    one = RateLimiter(first, PER_MINUTE, BURST, timeout_s=2)
    two = RateLimiter(second, PER_MINUTE, BURST, timeout_s=2)
    try:
        decisions = [await (one if i % 2 == 0 else two).check(key) for i in range(BURST + 1)]
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert [d.remaining for d in decisions[:BURST]] == [2, 1, 0]
    finally:
        await one.aclose()
        await two.aclose()
        await first.aclose()
        await second.aclose()


async def test_concurrent_checks_take_exactly_the_burst(shared_url: str) -> None:
    """The script is atomic: 300 checks at once let exactly `burst` through, and more checks
    than pooled connections (64) wait for one instead of failing open. Generous timeouts:
    this is about atomicity, and opening 64 connections at once on a busy machine is slow."""
    key = unique_key()
    client = redis_client(shared_url, timeout_s=2.0)
    limiter = RateLimiter(client, 6, BURST, timeout_s=2.0)  # one token per 10 s: no refill here
    try:
        decisions = await asyncio.gather(*(limiter.check(key) for _ in range(300)))
        assert sum(d.allowed for d in decisions) == BURST
        assert not any(d.degraded for d in decisions)
    finally:
        await limiter.aclose()
        await client.delete(bucket_key(key))
        await client.aclose()


async def test_the_state_has_a_ttl_and_uses_the_server_clock(
    limiter: RateLimiter, shared_redis: Redis
) -> None:
    key = unique_key()
    await take(limiter, key, BURST)
    name = bucket_key(key)
    assert name == KEY_PREFIX + "{" + key + "}"
    state = await shared_redis.hgetall(name)
    assert set(state) == {b"tokens", b"ts"}
    seconds, micros = await shared_redis.time()
    assert abs(int(state[b"ts"]) - (seconds * 1_000_000 + micros)) < 1_000_000
    ttl_ms = await shared_redis.pttl(name)
    assert 0 < ttl_ms <= BURST * TOKEN_S * 1000  # the time until the bucket is full again

    deadline = time.monotonic() + 2
    while await shared_redis.exists(name):
        assert time.monotonic() < deadline, "the bucket never expired"
        await asyncio.sleep(0.02)
    decision = await limiter.check(key)
    assert decision.allowed and decision.remaining == BURST - 1  # expired == full


async def test_a_refused_request_writes_nothing(limiter: RateLimiter, shared_redis: Redis) -> None:
    key = unique_key()
    await take(limiter, key, BURST)
    before = await shared_redis.hgetall(bucket_key(key))
    assert not (await limiter.check(key)).allowed
    assert await shared_redis.hgetall(bucket_key(key)) == before


async def test_long_keys_are_hashed(limiter: RateLimiter) -> None:
    long_key = principal_key("s" * 1000 + uuid.uuid4().hex, "tenant")
    name = bucket_key(long_key)
    assert name.startswith(KEY_PREFIX + "{sha256:") and len(name) < 100
    assert name == bucket_key(long_key) != bucket_key(long_key[:-1])
    decisions = await take(limiter, long_key, BURST + 1)
    assert [d.allowed for d in decisions] == [True, True, True, False]


def test_principal_keys_are_unambiguous() -> None:
    assert principal_key("a:b", "t") != principal_key("a", "b:t")
    assert principal_key("alice", "acme") == "acme:alice"


# --- limiting off ----------------------------------------------------------------------------


async def test_zero_per_minute_makes_no_redis_call() -> None:
    dead = redis_client(f"redis://127.0.0.1:{free_port()}/0")  # any call would fail and be degraded
    limiter = RateLimiter(dead, 0, BURST)
    try:
        decisions = [await limiter.check("k") for _ in range(100)]
        assert all(d == UNLIMITED for d in decisions)
        assert not decisions[0].degraded and decisions[0].headers() == {}
        assert limiter.failures == 0 and limiter.degraded_checks == 0 and not limiter.enabled
    finally:
        await limiter.aclose()
        await dead.aclose()


async def test_no_redis_means_no_limit() -> None:
    limiter = RateLimiter(None, PER_MINUTE, BURST)
    assert [await limiter.check("k") for _ in range(BURST + 1)] == [UNLIMITED] * (BURST + 1)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        RateLimiter(None, -1, BURST)
    with pytest.raises(ValueError):
        RateLimiter(None, PER_MINUTE, 0)
    with pytest.raises(ValueError):
        RateLimiter(None, PER_MINUTE, BURST, timeout_s=0)


# --- failing open ----------------------------------------------------------------------------


async def test_redis_down_fails_open_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    dead = redis_client(f"redis://127.0.0.1:{free_port()}/0")
    limiter = RateLimiter(dead, PER_MINUTE, BURST, cooldown_s=0)  # every check tries Redis
    try:
        with caplog.at_level(logging.INFO, logger="cohort.rate_limit"):
            for _ in range(BURST + 3):
                decision, elapsed = await timed_check(limiter, unique_key())
                assert decision.allowed and decision.degraded and elapsed < 0.5
                assert decision.headers() == {}
        assert limiter.failures == BURST + 3 and limiter.degraded_checks == BURST + 3
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "failing open" in warnings[0].getMessage()
    finally:
        await limiter.aclose()
        await dead.aclose()


async def test_an_error_from_redis_fails_open(limiter: RateLimiter, shared_redis: Redis) -> None:
    key = unique_key()
    await shared_redis.set(bucket_key(key), "not a hash", px=5_000)  # WRONGTYPE inside the script
    decision, elapsed = await timed_check(limiter, key)
    assert decision.allowed and decision.degraded and elapsed < 0.5
    assert limiter.failures == 1
    await shared_redis.delete(bucket_key(key))


async def test_a_redis_that_never_answers_fails_open_quickly() -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept, read everything, never answer; until the client hangs up
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = redis_client(f"redis://127.0.0.1:{port}/0")
    limiter = RateLimiter(client, PER_MINUTE, BURST, timeout_s=0.05, cooldown_s=0.1)
    try:
        decision, elapsed = await timed_check(limiter, unique_key())
        assert decision.allowed and decision.degraded and elapsed < 0.5
        assert limiter.failures == 1

        decision, elapsed = await timed_check(limiter, unique_key())  # cooldown: Redis is skipped
        assert decision.degraded and elapsed < 0.05
        assert limiter.failures == 1 and limiter.degraded_checks == 2

        await asyncio.sleep(0.15)  # after the cooldown Redis is tried again
        decision, elapsed = await timed_check(limiter, unique_key())
        assert decision.allowed and decision.degraded and elapsed < 0.5
        assert limiter.failures == 2
    finally:
        await limiter.aclose()
        await client.aclose()
        server.close()
        async with asyncio.timeout(2):
            await server.wait_closed()


@needs_redis_server
async def test_redis_killed_then_restarted(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis_client(redis_server.url)
    limiter = RateLimiter(client, PER_MINUTE, BURST, cooldown_s=0.05)
    key = unique_key()
    try:
        with caplog.at_level(logging.INFO, logger="cohort.rate_limit"):
            decisions = await take(limiter, key, BURST + 1)
            assert [d.allowed for d in decisions] == [True, True, True, False]

            redis_server.kill()
            for _ in range(BURST + 2):  # would all be refused if Redis answered
                decision, elapsed = await timed_check(limiter, key)
                assert decision.allowed and decision.degraded and elapsed < 0.5
            assert limiter.failures >= 1

            redis_server.start()  # same port, empty: no data, no scripts (EVALSHA falls back)
            deadline = time.monotonic() + 3
            while (decision := await limiter.check(key)).degraded:
                assert time.monotonic() < deadline, "limiting did not resume"
                await asyncio.sleep(0.02)
            rest = await take(limiter, key, BURST)
        assert decision.allowed and decision.remaining == BURST - 1
        assert [d.allowed for d in rest] == [True, True, False]
        assert not any(d.degraded for d in rest)
        messages = [r.getMessage() for r in caplog.records]
        assert sum("failing open" in m for m in messages) == 1
        assert sum("resumed" in m for m in messages) == 1
    finally:
        await limiter.aclose()
        await client.aclose()


@needs_redis_server
async def test_limiting_through_a_unix_socket(redis_server: RedisServer) -> None:
    client = redis_client(f"unix://{redis_server.socket}")
    limiter = RateLimiter(client, PER_MINUTE, BURST)
    try:
        decisions = await take(limiter, unique_key(), BURST + 1)
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert not any(d.degraded for d in decisions)
    finally:
        await limiter.aclose()
        await client.aclose()


async def test_the_client_is_made_for_failing_open() -> None:
    clients = {
        "redis://127.0.0.1:6379/0": Connection,
        "rediss://cache.example:6380/0": SSLConnection,
        "unix:///tmp/cohort-redis.sock?db=0": UnixDomainSocketConnection,
    }
    for url, connection_class in clients.items():
        client = redis_client(url)
        pool = client.connection_pool
        assert isinstance(pool, BlockingConnectionPool) and pool.timeout == 0.5 and pool.max_connections == 64
        assert pool.connection_class is connection_class
        kwargs = pool.connection_kwargs
        assert kwargs["socket_connect_timeout"] == 0.5 and kwargs["socket_timeout"] == 0.5
        assert kwargs["health_check_interval"] > 0
        retry = kwargs["retry"]
        assert retry._retries == 1 and retry._supported_errors == (RedisConnectionError,)  # never on timeout
        await client.aclose()


async def test_after_a_failure_one_check_at_a_time_probes_redis() -> None:
    """Once the cooldown is over, concurrent requests do not each wait for a dead Redis: one
    probes, the others are allowed at once."""
    dead = redis_client(f"redis://127.0.0.1:{free_port()}/0")
    limiter = RateLimiter(dead, PER_MINUTE, BURST, cooldown_s=0.2)
    try:
        assert (await limiter.check(unique_key())).degraded and limiter.failures == 1
        await asyncio.sleep(0.25)
        decisions = await asyncio.gather(*(limiter.check(unique_key()) for _ in range(50)))
        assert all(d.allowed and d.degraded for d in decisions)
        assert limiter.failures == 2 and limiter.degraded_checks == 51
    finally:
        await limiter.aclose()
        await dead.aclose()


async def test_limiting_resumes_after_a_probe_succeeds(shared_url: str) -> None:
    client = redis_client(shared_url)
    limiter = RateLimiter(client, PER_MINUTE, BURST, cooldown_s=0.1)
    try:
        limiter._failed(TimeoutError())  # as after a call that timed out
        assert (await limiter.check(unique_key())).degraded  # within the cooldown
        await asyncio.sleep(0.15)
        key = unique_key()
        decisions = await take(limiter, key, BURST + 1)
        assert [d.degraded for d in decisions] == [False] * (BURST + 1)
        assert [d.allowed for d in decisions] == [True] * BURST + [False]
    finally:
        await limiter.aclose()
        await client.aclose()


async def test_a_check_reads_a_key_in_the_same_call(limiter: RateLimiter, shared_redis: Redis) -> None:
    key = unique_key()
    other = "cohort:response:{" + key + "}:test"
    await shared_redis.set(other, b"stored answer", px=5_000)
    try:
        first = await limiter.check(key, read=other)
        assert first.allowed and first.read == b"stored answer"
        assert (await limiter.check(key, read=other + ":missing")).read is None
        await take(limiter, key, BURST)
        refused = await limiter.check(key, read=other)
        assert not refused.allowed and refused.read is None  # a refused request reads nothing
    finally:
        await shared_redis.delete(other)
