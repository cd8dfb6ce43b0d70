"""The lease that shares a miss across processes (cache/lease.py), on a real Redis: each
`Leases` over its own client and cache stands for one process."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from api.redis_client import connect_redis
from cache.keys import query_keys
from cache.lease import Leases
from cache.result_cache import Cached, ResultCache
from tests.databases import free_port, redis_url

LEASE_MS = 300


@pytest.fixture
async def processes() -> AsyncIterator[Callable[..., Leases]]:
    """make(**options) -> the Leases of a new "process" (its own client and cache)."""
    keep: list[object] = []
    clients: list[Any] = []

    def make(**options: Any) -> Leases:
        client = connect_redis(redis_url(keep), timeout_s=1.0)
        clients.append(client)
        cache = ResultCache(client, timeout_s=1.0, max_bytes=options.pop("max_bytes", 4_000_000))
        return Leases(cache, **{"lease_ms": LEASE_MS, "wait_s": 5.0, **options})

    yield make
    for client in clients:
        await client.aclose()


def _keys() -> tuple[str, str]:
    keys = query_keys("enrollments", secrets.token_hex(8))  # a query no one has used
    return keys.result(("every:1",)), keys.lease(("every:1",))


def _work(
    cache: ResultCache, key: str, body: bytes, calls: list[str], name: str, seconds: float = 0.1
) -> Callable[[], Awaitable[tuple[Cached, bool]]]:
    async def work() -> tuple[Cached, bool]:
        calls.append(name)
        await asyncio.sleep(seconds)
        value = Cached(body, 1_700_000_000.0)
        return value, await cache.set(key, value, 60)

    return work


async def test_one_process_computes_and_the_others_get_its_result(processes: Callable[..., Leases]) -> None:
    key, lease = _keys()
    workers = [processes() for _ in range(4)]
    calls: list[str] = []
    values = await asyncio.gather(
        *(w.fill(key, lease, _work(w.cache, key, b"[1]", calls, f"p{i}")) for i, w in enumerate(workers))
    )
    assert len(calls) == 1
    assert all(value == Cached(b"[1]", 1_700_000_000.0) for value in values)
    assert sum(w.acquired for w in workers) == 1 and sum(w.shared for w in workers) == 3
    assert sum(w.local for w in workers) == 0
    assert await workers[0].cache.redis.exists(lease) == 0  # released


async def test_a_dead_holders_lease_expires_and_a_waiter_takes_over(processes: Callable[..., Leases]) -> None:
    key, lease = _keys()
    waiter = processes()
    # What a holder that died leaves behind: its lease, no result, nobody renewing.
    await waiter.cache.redis.set(lease, "the-dead-holder", px=LEASE_MS)
    calls: list[str] = []
    started = time.monotonic()
    value = await waiter.fill(key, lease, _work(waiter.cache, key, b"[2]", calls, "waiter", 0.0))
    took = time.monotonic() - started
    assert value.body == b"[2]" and calls == ["waiter"]
    assert LEASE_MS / 1000 - 0.05 <= took < LEASE_MS / 1000 + 0.5  # it waited for the lease, no longer
    assert waiter.waited == 1 and waiter.acquired == 1 and waiter.local == 0
    assert await waiter.cache.get(key) == value


async def test_a_live_holder_renews_its_lease_past_its_length(processes: Callable[..., Leases]) -> None:
    key, lease = _keys()
    holder, waiter = processes(), processes()
    calls: list[str] = []
    slow = _work(holder.cache, key, b"[3]", calls, "holder", seconds=4 * LEASE_MS / 1000)
    first = asyncio.create_task(holder.fill(key, lease, slow))
    await asyncio.sleep(0.05)
    second = await waiter.fill(key, lease, _work(waiter.cache, key, b"[x]", calls, "waiter"))
    assert calls == ["holder"] and second == await first
    assert waiter.waited == 1 and waiter.shared == 1


async def test_the_whole_wait_is_bounded(processes: Callable[..., Leases]) -> None:
    """A holder that keeps renewing past every bound (a bug, or a clock gone wrong) does not hold
    the waiters: after `wait_s` they compute the result themselves."""
    key, lease = _keys()
    waiter = processes(wait_s=0.4)
    await waiter.cache.redis.set(lease, "a-stuck-holder", px=60_000)
    calls: list[str] = []
    started = time.monotonic()
    value = await waiter.fill(key, lease, _work(waiter.cache, key, b"[4]", calls, "waiter", 0.0))
    assert value.body == b"[4]" and calls == ["waiter"]
    assert 0.35 <= time.monotonic() - started < 1.5
    assert waiter.local == 1 and waiter.acquired == 0
    assert await waiter.cache.redis.get(lease) == b"a-stuck-holder"  # not the waiter's to release


async def test_a_failed_holder_releases_and_the_next_takes_over(processes: Callable[..., Leases]) -> None:
    key, lease = _keys()
    holder, waiter = processes(), processes()
    calls: list[str] = []

    async def failing() -> tuple[Cached, bool]:
        calls.append("holder")
        await asyncio.sleep(0.1)
        raise RuntimeError("the statement failed")

    first = asyncio.create_task(holder.fill(key, lease, failing))
    await asyncio.sleep(0.03)
    started = time.monotonic()
    value = await waiter.fill(key, lease, _work(waiter.cache, key, b"[5]", calls, "waiter", 0.0))
    with pytest.raises(RuntimeError):
        await first
    assert calls == ["holder", "waiter"] and value.body == b"[5]"
    assert time.monotonic() - started < LEASE_MS / 1000  # released at once, not left to expire


async def test_a_result_too_large_to_store_is_computed_by_the_waiters_at_once(
    processes: Callable[..., Leases],
) -> None:
    key, lease = _keys()
    workers = [processes(max_bytes=10) for _ in range(3)]
    calls: list[str] = []
    big = b"[" + b"1," * 50 + b"1]"
    started = time.monotonic()
    values = await asyncio.gather(
        *(w.fill(key, lease, _work(w.cache, key, big, calls, f"p{i}", 0.2)) for i, w in enumerate(workers))
    )
    assert all(value.body == big for value in values) and len(calls) == 3
    # Side by side after the holder's run, not one lease after the other (that would be >= 0.6 s).
    assert time.monotonic() - started < 0.55
    assert sum(w.acquired for w in workers) == 1 and sum(w.local for w in workers) == 2


async def test_release_only_deletes_the_callers_own_lease(processes: Callable[..., Leases]) -> None:
    key, lease = _keys()
    holder = processes(lease_ms=100)
    calls: list[str] = []

    async def not_renewing(lease_key: str, owner: str) -> None:  # a holder stalled too long to renew
        return None

    holder._keep = not_renewing  # type: ignore[method-assign]

    async def outlived() -> tuple[Cached, bool]:
        calls.append("holder")
        await asyncio.sleep(0.25)  # its lease expires and another process takes it
        return Cached(b"[6]", None), False

    async def take_over() -> None:
        await asyncio.sleep(0.15)
        assert await holder.cache.redis.set(lease, "the-next-holder", px=10_000, nx=True)

    _, value = await asyncio.gather(take_over(), holder.fill(key, lease, outlived))
    assert value.body == b"[6]"
    assert await holder.cache.redis.get(lease) == b"the-next-holder"


async def test_redis_down_means_the_work_runs_locally_at_once() -> None:
    client = connect_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2)  # nothing listens
    try:
        leases = Leases(ResultCache(client), lease_ms=LEASE_MS)
        key, lease = _keys()
        calls: list[str] = []
        started = time.monotonic()
        values = [
            await leases.fill(key, lease, _work(leases.cache, key, b"[7]", calls, f"r{i}", 0.0))
            for i in range(3)
        ]
        assert all(value.body == b"[7]" for value in values) and len(calls) == 3
        assert time.monotonic() - started < 1.0
        assert leases.local == 3 and leases.acquired == 0
        # The works' three sets, and one claim: after it failed, the lease left Redis alone.
        assert leases.cache.failures == 3 + 1
    finally:
        await client.aclose()
