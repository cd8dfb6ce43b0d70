"""The Redis client the app shares (result cache and rate limits): one server or a
cluster, short timeouts, so that a slow or absent Redis never holds a request up."""

from __future__ import annotations

from typing import Any

from redis.asyncio.cluster import RedisCluster

from api.rate_limit import redis_client


def connect_redis(url: str, *, cluster: bool = False, timeout_s: float = 0.5) -> Any:
    if not cluster:
        return redis_client(url, timeout_s=timeout_s)
    return RedisCluster.from_url(
        url,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        require_full_coverage=False,
    )
