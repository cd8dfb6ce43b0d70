"""Aggregate results in Redis: compact values, short timeouts, and never in the way.

A value is a small header (format, when the data was last known to change) and the
JSON of the projected rows, zlib-compressed above `compress_above` bytes; results larger
than `max_bytes` are not cached. The latest value of a query (for stale-while-revalidate)
is stored with the freshness tokens it was computed for and the moment it stops being
fresh, so that a reader can tell how stale it is. Every Redis call has a timeout: when Redis is down or
slow, `get` misses and `set` gives up, the query goes to the database, and `failures`
counts it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import struct
import time
import zlib
from dataclasses import dataclass
from typing import Any

from cache.keys import model_pattern

log = logging.getLogger("cohort.cache")

_HEADER = struct.Struct("!cd")  # format byte, data-as-of (Unix seconds, NaN when unknown)
_RAW, _ZLIB = b"r", b"z"
_LATEST = struct.Struct("!dI")  # fresh until (Unix seconds), length of the tokens
_SEPARATOR = "\x1f"


@dataclass(frozen=True, slots=True)
class Cached:
    body: bytes  # JSON of the projected rows
    data_as_of: float | None  # when the data last changed, as far as the refresh rule knows


def encode(value: Cached, compress_above: int) -> bytes:
    as_of = float("nan") if value.data_as_of is None else value.data_as_of
    if len(value.body) > compress_above:
        return _HEADER.pack(_ZLIB, as_of) + zlib.compress(value.body, 1)
    return _HEADER.pack(_RAW, as_of) + value.body


def decode(raw: bytes) -> Cached:
    kind, as_of = _HEADER.unpack_from(raw)
    body = raw[_HEADER.size :]
    if kind == _ZLIB:
        body = zlib.decompress(body)
    return Cached(body, None if as_of != as_of else as_of)


@dataclass(frozen=True, slots=True)
class Latest:
    """The last result stored for a query, whatever its freshness tokens."""

    value: Cached
    tokens: tuple[str, ...]  # the freshness tokens it was computed for
    fresh_until: float  # Unix seconds: when its TTL ran out (or runs out)


def encode_latest(latest: Latest, compress_above: int) -> bytes:
    tokens = _SEPARATOR.join(latest.tokens).encode()
    return _LATEST.pack(latest.fresh_until, len(tokens)) + tokens + encode(latest.value, compress_above)


def decode_latest(raw: bytes) -> Latest:
    fresh_until, length = _LATEST.unpack_from(raw)
    start = _LATEST.size
    tokens = raw[start : start + length].decode()
    return Latest(decode(raw[start + length :]), tuple(tokens.split(_SEPARATOR)), fresh_until)


class ResultCache:
    def __init__(
        self,
        redis: Any | None,  # redis.asyncio.Redis or RedisCluster; None turns caching off
        *,
        max_bytes: int = 4_000_000,
        compress_above: int = 16_384,
        timeout_s: float = 0.25,  # on the event loop: under load a reply is read late
    ) -> None:
        self.redis = redis
        self.max_bytes = max_bytes
        self.compress_above = compress_above
        self.timeout_s = timeout_s
        self.hits = self.misses = self.failures = self.too_large = 0
        self.last_failure = -math.inf  # time.monotonic() of the last failed call
        self._last_warning = 0.0

    @property
    def enabled(self) -> bool:
        return self.redis is not None

    def failed(self, error: BaseException) -> None:
        """Count a failed Redis call (the lease's too) and warn, at most every 30 s."""
        self.failures += 1
        now = self.last_failure = time.monotonic()
        if now - self._last_warning > 30:
            self._last_warning = now
            log.warning("result cache unavailable (%s); answering from the database", type(error).__name__)

    def recently_failed(self, within_s: float = 1.0) -> bool:
        """A call failed within the last `within_s` seconds: optional calls are skipped."""
        return time.monotonic() - self.last_failure < within_s

    async def get(self, key: str) -> Cached | None:
        raw = await self._get(key)
        return None if raw is None else decode(raw)

    async def get_latest(self, key: str) -> Latest | None:
        raw = await self._get(key, counted=False)  # not a lookup of its own: the fresh key missed
        return None if raw is None else decode_latest(raw)

    async def set(self, key: str, value: Cached, ttl_s: float) -> bool:
        return await self._set(key, encode(value, self.compress_above), ttl_s)

    async def set_latest(self, key: str, latest: Latest, ttl_s: float) -> bool:
        return await self._set(key, encode_latest(latest, self.compress_above), ttl_s)

    async def _get(self, key: str, counted: bool = True) -> bytes | None:
        if self.redis is None:
            return None
        try:
            async with asyncio.timeout(self.timeout_s):
                raw = await self.redis.get(key)
        except Exception as error:  # down, slow or confused: a miss
            self.failed(error)
            return None
        if counted:
            self.hits += raw is not None
            self.misses += raw is None
        return None if raw is None else bytes(raw)

    async def _set(self, key: str, raw: bytes, ttl_s: float) -> bool:
        if self.redis is None:
            return False
        if len(raw) > self.max_bytes:
            self.too_large += 1
            return False
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.redis.set(key, raw, px=max(1_000, math.ceil(ttl_s * 1000)))
        except Exception as error:
            self.failed(error)
            return False
        return True

    async def flush(self, model: str | None = None) -> int:
        """Delete the cached results of a model (or all); the number of keys deleted."""
        if self.redis is None:
            return 0
        deleted = 0
        batch: list[Any] = []
        async for key in self.redis.scan_iter(match=model_pattern(model), count=1_000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += await self._delete(batch)
                batch = []
        if batch:
            deleted += await self._delete(batch)
        return deleted

    async def _delete(self, keys: list[Any]) -> int:
        # One key per call: in a cluster, keys of one batch live on different nodes.
        results = await asyncio.gather(*(self.redis.delete(key) for key in keys))  # type: ignore[union-attr]
        return int(sum(results))
