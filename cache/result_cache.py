"""Aggregate results in Redis: compact values, short timeouts, and never in the way.

A value is a small header (format, when the data was last known to change) and the
JSON of the projected rows, zlib-compressed above `compress_above` bytes; results larger
than `max_bytes` are not cached. Every Redis call has a timeout: when Redis is down or
slow, `get` misses and `set` gives up, the query goes to the database, and `failures`
counts it.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
import zlib
from dataclasses import dataclass
from typing import Any

from cache.keys import model_pattern

log = logging.getLogger("cohort.cache")

_HEADER = struct.Struct("!cd")  # format byte, data-as-of (Unix seconds, NaN when unknown)
_RAW, _ZLIB = b"r", b"z"


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
        self._last_warning = 0.0

    @property
    def enabled(self) -> bool:
        return self.redis is not None

    def _failed(self, error: BaseException) -> None:
        self.failures += 1
        now = time.monotonic()
        if now - self._last_warning > 30:
            self._last_warning = now
            log.warning("result cache unavailable (%s); answering from the database", type(error).__name__)

    async def get(self, key: str) -> Cached | None:
        if self.redis is None:
            return None
        try:
            async with asyncio.timeout(self.timeout_s):
                raw = await self.redis.get(key)
        except Exception as error:  # down, slow or confused: a miss
            self._failed(error)
            return None
        if raw is None:
            self.misses += 1
            return None
        self.hits += 1
        return decode(raw)

    async def set(self, key: str, value: Cached, ttl_s: int) -> bool:
        if self.redis is None:
            return False
        raw = encode(value, self.compress_above)
        if len(raw) > self.max_bytes:
            self.too_large += 1
            return False
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.redis.set(key, raw, ex=max(1, ttl_s))
        except Exception as error:
            self._failed(error)
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
