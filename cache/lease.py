"""Single flight across processes and hosts: a short lease in Redis per result key.

The first caller anywhere to miss a key takes its lease (`SET NX PX` with a random owner
token), runs the work, which stores the result, and releases the lease (compare and
delete). While it works it renews the lease every third of its length, so the lease can
be short: a holder that dies stops renewing and its lease expires within `lease_ms`.
Callers elsewhere that find the lease taken poll (growing pauses, at most `poll_max_s`)
until the result appears, or until the lease is gone without one (its holder failed or
died), and then take it over.

Claiming reads the result and takes the lease in one script: one round trip, and no
result stored just before a release can be missed. Both keys must therefore be in one
Redis Cluster slot (cache/keys.py gives them one hash tag).

Redis is an optimisation, never a dependency: every call is bounded by `timeout_s`, and a
claim that fails, a lease call that failed within the last `cooldown_s`, or a wait longer
than `wait_s` (the holder's own bound plus the lease) all mean the work runs locally at
once (fail open). Lease calls are few (one claim per miss and process, then a poll every
10 to 50 ms while waiting), so their timeout can be longer than the cache's reads: a busy
event loop must not make a burst of misses look like a Redis failure and run twice. A holder whose
result could not be stored (too large for the cache, Redis failing) leaves a short
"not stored" mark instead of releasing, so the waiters run the work at once, side by side,
rather than taking it over one after the other.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cache.result_cache import Cached, ResultCache, decode

log = logging.getLogger("cohort.cache")

_NOT_STORED = b"-"

# KEYS[1]: the result, KEYS[2]: its lease. ARGV[1]: owner token, ARGV[2]: lease length (ms).
# Returns {1, result} | {2, ''} (the lease is the caller's) | {0, ms left of the lease} |
# {3, ''} (the holder finished without storing: run the work yourself).
_CLAIM = """
local value = redis.call('GET', KEYS[1])
if value then
  return {1, value}
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {2, ''}
end
if redis.call('GET', KEYS[2]) == '-' then
  return {3, ''}
end
return {0, tostring(redis.call('PTTL', KEYS[2]))}
"""

# KEYS[1]: the lease. ARGV[1]: owner token, ARGV[2]: 0 to delete it, else mark it "not stored"
# for that many ms. Only the owner's lease is touched (it may have expired and been taken over).
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == '0' then
  return redis.call('DEL', KEYS[1])
end
redis.call('SET', KEYS[1], '-', 'PX', ARGV[2])
return 1
"""

# KEYS[1]: the lease. ARGV[1]: owner token, ARGV[2]: lease length (ms). 0: the lease was lost.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

Work = Callable[[], Awaitable[tuple[Cached, bool]]]  # the value, and whether it was stored


class Leases:
    """See the module docstring. Counters: `acquired` (ran the work under a lease), `waited`
    (found a lease taken), `shared` (got a result another process stored), `local` (ran
    the work without a lease: Redis failing, or the wait bound reached)."""

    def __init__(
        self,
        cache: ResultCache,
        *,
        lease_ms: int = 2_000,
        wait_s: float = 30.0,
        timeout_s: float = 0.25,
        cooldown_s: float = 1.0,
        poll_s: float = 0.01,
        poll_max_s: float = 0.05,
    ) -> None:
        if lease_ms < 30 or min(wait_s, timeout_s, poll_s) <= 0 or poll_max_s < poll_s or cooldown_s < 0:
            raise ValueError("lease_ms must be >= 30, wait_s, timeout_s and poll_s > 0, poll_max_s >= poll_s")
        self.cache = cache
        self.lease_ms = lease_ms
        self.wait_s = wait_s
        self.timeout_s = timeout_s
        self.cooldown_s = cooldown_s
        self.poll_s = poll_s
        self.poll_max_s = poll_max_s
        self.acquired = self.waited = self.shared = self.local = 0
        self._failed_at = -math.inf
        redis = cache.redis
        self._claim = redis.register_script(_CLAIM) if redis is not None else None
        self._release = redis.register_script(_RELEASE) if redis is not None else None
        self._renew = redis.register_script(_RENEW) if redis is not None else None

    async def fill(self, key: str, lease_key: str, work: Work) -> Cached:
        """The value stored under `key` by whoever computed it, or `work()`'s."""
        if self._claim is None or time.monotonic() - self._failed_at < self.cooldown_s:
            return await self._locally(work)
        owner = secrets.token_hex(16)
        deadline = time.monotonic() + self.wait_s
        pause = self.poll_s
        waiting = False
        while True:
            try:
                kind, payload = await self._call(self._claim, [key, lease_key], [owner, self.lease_ms])
            except Exception as error:  # fail open, whatever went wrong
                self._failed(error)
                return await self._locally(work)
            if kind == 1:
                self.shared += 1
                return decode(bytes(payload))
            if kind == 2:
                self.acquired += 1
                return await self._hold(lease_key, owner, work)
            if kind == 3:
                return await self._locally(work)
            if not waiting:
                waiting = True
                self.waited += 1
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning(
                    "waited %.1f s for another process to compute a result; computing it here", self.wait_s
                )
                return await self._locally(work)
            remaining_ms = int(payload)
            if remaining_ms == -2:  # it expired between the script's calls: claim again at once
                continue
            # Not past the lease's end (a dead holder's); -1 (no expiry) is not ours: wait as usual.
            await asyncio.sleep(min(pause, left, remaining_ms / 1000 if remaining_ms >= 0 else pause))
            pause = min(pause * 2, self.poll_max_s)

    async def _locally(self, work: Work) -> Cached:
        self.local += 1
        value, _ = await work()
        return value

    async def _hold(self, lease_key: str, owner: str, work: Work) -> Cached:
        renewing = asyncio.create_task(self._keep(lease_key, owner))
        stored = False
        try:
            value, stored = await work()
            return value
        finally:
            renewing.cancel()  # not awaited: that could swallow a cancellation of this task
            try:
                assert self._release is not None
                await self._call(self._release, [lease_key], [owner, 0 if stored else self.lease_ms])
            except Exception as error:  # the lease expires by itself
                self._failed(error)

    async def _keep(self, lease_key: str, owner: str) -> None:
        """Renew the lease while the work runs; stop when it was lost (taken over)."""
        assert self._renew is not None
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                if not await self._call(self._renew, [lease_key], [owner, self.lease_ms]):
                    return
            except Exception as error:  # try again at the next beat; the lease may lapse
                self._failed(error)

    def _failed(self, error: BaseException) -> None:
        self._failed_at = time.monotonic()
        self.cache.failed(error)  # counted with the cache's failures

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        async with asyncio.timeout(self.timeout_s):
            return await script(keys=keys, args=args)
