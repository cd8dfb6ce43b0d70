"""Rate limiting per principal: a token bucket in Redis that fails open.

Each principal (subject + tenant, see `principal_key`) has a bucket of `burst` tokens that
refills at `per_minute` tokens per minute; a request takes one token or is refused. The
bucket is a Redis hash (`tokens`, `ts`) under `cohort:ratelimit:{key}` (the key in braces is a
Redis Cluster hash tag, so the principal's cached responses, see api/response_cache.py, live
on the same node), read, refilled and updated by one Lua script in one round trip
(EVALSHA, with redis-py falling back to SCRIPT LOAD after a Redis restart). The script
reads the clock with `redis.call('TIME')`, so every app server agrees on elapsed time, and
sets a TTL equal to the time the bucket needs to be full again: an idle key expires exactly
when it would be indistinguishable from a new one.

The same script can read one more key when the request is allowed (`check(key, read=...)`):
the response cache's entry for this request, so that a cached answer costs one round trip.

Redis is an optimisation here, not a dependency: when it is down, slow or answers with an
error, `check` allows the request with `degraded=True`, counts the failure, logs a warning
at most every 30 s, and skips Redis for `cooldown_s` so a dead or blackholed server costs
requests nothing; after the cooldown one check probes Redis while the others keep being
allowed, so a Redis that is still down costs one timeout per cooldown, not one per request.
Limiting resumes by itself once Redis answers again. `check` never raises (apart from the
caller's own cancellation) and never waits longer than `timeout_s`.

The timeout is long (0.5 s) on purpose: it is measured on the event loop, which under load
reads a reply late; 50 ms let 57% of checks through undecided at 32 connections, while a
Redis that is down answers a connect or read at once with an error, not with silence.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

log = logging.getLogger("cohort.rate_limit")

KEY_PREFIX = "cohort:ratelimit:"
MAX_KEY_CHARS = 128  # longer keys are replaced by their SHA-256
WARN_EVERY_S = 30.0

# KEYS[1]: the bucket, a hash {tokens, ts (server time, microseconds)}; KEYS[2] (optional): a
# key to read when allowed. ARGV[1]: tokens per minute (> 0), ARGV[2]: burst (>= 1).
# Returns {allowed (0/1), tokens left (as a string: Lua numbers would be truncated), the value
# of KEYS[2] or false}.
_TOKEN_BUCKET = """
local per_minute = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
elseif now > ts then
  tokens = tokens + (now - ts) * per_minute / 60000000
end
if tokens > burst then
  tokens = burst
end
if tokens < 1 then
  -- refused: nothing to write, the stored state still gives the same answer later
  return {0, tostring(tokens)}
end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 60000 / per_minute))
local value = false
if KEYS[2] then
  value = redis.call('GET', KEYS[2])
end
return {1, tostring(tokens), value}
"""


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one `RateLimiter.check`.

    `limit` is the bucket size (burst), `remaining` the whole tokens left after this
    request, `reset_s` the seconds until the bucket is full again and `retry_after_s`
    (refused requests only) the whole seconds until one token is back. A `degraded`
    decision was made without Redis: the request is allowed and nothing is known about
    the bucket, so `headers()` is empty, as it is when limiting is off (`limit == 0`).
    """

    allowed: bool
    limit: int
    remaining: int
    reset_s: float
    retry_after_s: int | None
    degraded: bool
    read: bytes | None = None  # the value of `check`'s `read` key, when it was asked for and exists

    def headers(self) -> dict[str, str]:
        """The IETF draft RateLimit header fields (integer seconds), plus `Retry-After`
        when refused."""
        if self.degraded or self.limit == 0:
            return {}
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(max(0, math.ceil(self.reset_s))),
        }
        if self.retry_after_s is not None:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


UNLIMITED = Decision(allowed=True, limit=0, remaining=0, reset_s=0.0, retry_after_s=None, degraded=False)


def principal_key(subject: str, tenant: str) -> str:
    """The bucket key of a principal: tenant and subject, percent-encoded so that neither
    can contain the separator."""
    return f"{quote(tenant, safe='')}:{quote(subject, safe='')}"


def slot_tag(key: str) -> str:
    """A principal key as a Redis Cluster hash tag: `{key}`, hashed when long (percent-encoding
    leaves no brace inside)."""
    if len(key) > MAX_KEY_CHARS:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return "{" + key + "}"


def bucket_key(key: str) -> str:
    """The Redis key of a bucket: namespaced, the principal key as its hash tag."""
    return KEY_PREFIX + slot_tag(key)


def redis_client(
    url: str,
    *,
    timeout_s: float = 0.5,
    health_check_interval: int = 10,
    max_connections: int = 64,
) -> Redis:
    """A client for `redis://`, `rediss://` and `unix://` URLs made for failing open:
    short connect and read timeouts, a health check on connections idle for
    `health_check_interval` seconds, and no retry on timeout (a refused or dropped
    connection is retried once, at once, so a stale pooled connection does not cost a
    request). The pool is bounded and a burst of concurrent calls waits (at most
    `timeout_s`) for a free connection rather than failing. `await client.aclose()`
    closes the pool too."""
    pool: BlockingConnectionPool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        health_check_interval=health_check_interval,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
    return Redis.from_pool(pool)


class RateLimiter:
    """A token bucket per key in Redis; see the module docstring.

    `redis=None` or `per_minute=0` turns limiting off: every check is allowed at once.
    `failures` counts the Redis calls that failed or timed out, `degraded_checks` the checks
    answered without Redis (failures, and checks made during the cooldown after one).
    """

    def __init__(
        self,
        redis: Redis | None,
        per_minute: int,
        burst: int,
        *,
        timeout_s: float = 0.5,  # see the module docstring
        cooldown_s: float = 1.0,
    ) -> None:
        if per_minute < 0:
            raise ValueError(f"per_minute must be >= 0, got {per_minute}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        if timeout_s <= 0 or cooldown_s < 0:
            raise ValueError("timeout_s must be > 0 and cooldown_s >= 0")
        self.per_minute = per_minute
        self.burst = burst
        self.timeout_s = timeout_s
        self.cooldown_s = cooldown_s
        self.failures = 0
        self.degraded_checks = 0
        self._redis = redis if per_minute > 0 else None
        self._script = self._redis.register_script(_TOKEN_BUCKET) if self._redis is not None else None
        self._rate_per_s = per_minute / 60
        self._skip_until = 0.0
        self._probing = False  # after a failure: one check at a time finds out whether Redis is back
        self._last_warning: float | None = None
        self._failures_at_warning = 0
        self._warned_since_recovery = False
        self._pending: set[asyncio.Task[Any]] = set()
        self._degraded_decision = Decision(
            allowed=True, limit=burst, remaining=burst, reset_s=0.0, retry_after_s=None, degraded=True
        )

    @property
    def enabled(self) -> bool:
        return self._script is not None

    async def check(self, key: str, read: str | None = None) -> Decision:
        """Take one token from `key`'s bucket and, when allowed, read the key `read` in the same
        round trip (it must be in the same cluster slot: see `slot_tag`). Never raises; waits
        at most `timeout_s`."""
        if self._script is None:
            return UNLIMITED
        if self._probing or time.monotonic() < self._skip_until:
            self.degraded_checks += 1
            return self._degraded_decision
        probe = self._skip_until > 0
        self._probing = probe
        keys = [bucket_key(key)] if read is None else [bucket_key(key), read]
        try:
            # Shielded: a call that times out here finishes in the background (bounded by
            # the client's socket timeouts) instead of being cancelled mid-command, which
            # would drop the connection, so a slow first connect (TLS, far server) is not
            # retried from scratch by every request.
            task = asyncio.ensure_future(self._script(keys=keys, args=[self.per_minute, self.burst]))
            self._pending.add(task)
            task.add_done_callback(self._forget)
            async with asyncio.timeout(self.timeout_s):
                reply = await asyncio.shield(task)
            decision = self._decision(reply)
        except Exception as error:  # fail open, whatever went wrong
            return self._failed(error)
        finally:
            if probe:
                self._probing = False
        self._skip_until = 0.0
        if self._warned_since_recovery:
            self._warned_since_recovery = False
            log.info("rate limiting resumed: Redis answers again")
        return decision

    async def aclose(self) -> None:
        """Cancel the calls still running in the background (the app's shutdown)."""
        pending = list(self._pending)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def _decision(self, reply: Any) -> Decision:
        allowed, raw_tokens = int(reply[0]), reply[1]
        tokens = max(0.0, float(raw_tokens.decode() if isinstance(raw_tokens, bytes) else raw_tokens))
        remaining = math.floor(tokens + 1e-9)
        reset_s = (self.burst - tokens) / self._rate_per_s
        retry_after = None if allowed else max(1, math.ceil((1 - tokens) / self._rate_per_s))
        read = reply[2] if len(reply) > 2 else None
        return Decision(
            allowed=bool(allowed),
            limit=self.burst,
            remaining=remaining,
            reset_s=reset_s,
            retry_after_s=retry_after,
            degraded=False,
            read=read if isinstance(read, bytes) else None,
        )

    def _failed(self, error: Exception) -> Decision:
        self.failures += 1
        self.degraded_checks += 1
        now = time.monotonic()
        self._skip_until = now + self.cooldown_s
        if self._last_warning is None or now - self._last_warning >= WARN_EVERY_S:
            reason = "timed out" if isinstance(error, TimeoutError) else f"{type(error).__name__}: {error}"
            log.warning(
                "rate limiting is failing open: Redis %s; requests are allowed without limits until it "
                "answers again (failed calls since the last warning: %d)",
                reason,
                self.failures - self._failures_at_warning,
            )
            self._last_warning = now
            self._failures_at_warning = self.failures
            self._warned_since_recovery = True
        return self._degraded_decision

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a timed-out call's late error is not "never retrieved"
