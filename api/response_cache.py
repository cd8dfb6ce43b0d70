"""Whole responses in Redis, answered before GraphQL runs.

Dashboards send the same few documents all day. Below this cache every root field is
already answered from the result cache (cache/result_cache.py), but executing the document
around it (argument conversion, access control, compiling, projection, encoding) costs
about four times what serving the same bytes from Redis does. An entry here is the final
response body, so a repeated request costs one Redis round trip, shared with the rate limit
check (api/rate_limit.py).

The key holds everything that decides the effective query: the document, variables and
operation name; the principal (kind, subject, tenant, roles, attributes, an embed session's
scope and locked filters); the model and
policy versions; the warehouse; the document limits. A principal never reads another's
entry: the key is per principal, under the principal's own Redis Cluster hash tag.

An entry also lists the freshness token of every model its answer read (cache/freshness.py).
On a hit they are compared with the current tokens: new data makes the entry a miss, and
the request runs as if it were not there. Only complete answers are stored: no errors, no
stale results, nothing asked with `renew`, queries only.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from api.limits import Limits
from api.rate_limit import principal_key, slot_tag
from authz.principal import Principal
from cache.freshness import Freshness
from schema.registry import Registry

log = logging.getLogger("cohort.cache")

PREFIX = "cohort:response:"
_LENGTH = struct.Struct("!I")  # length of the header (the freshness tokens) before the body
# Conservative: any mention of `renew` (an argument, a variable, even a comment) skips the cache.
_RENEW = re.compile(r"\brenew\b")


class _Header(msgspec.Struct, array_like=True):
    tokens: dict[str, str]  # model -> freshness token the answer was built with


_encode_header = msgspec.msgpack.Encoder().encode
_decode_header = msgspec.msgpack.Decoder(_Header).decode


@dataclass(frozen=True, slots=True)
class Identity:
    """What besides the request decides an answer: set once per runtime and policy."""

    namespace: str  # the warehouse
    registry_version: str
    policy_version: int
    limits: Limits


def response_key(
    identity: Identity,
    principal: Principal,
    query: str,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
) -> str:
    """`cohort:response:{<principal>}:<sha256>`; the principal's hash tag is its rate-limit bucket's."""
    who = (
        principal.kind,
        principal.subject,
        principal.tenant,
        sorted(principal.roles),
        sorted((name, type(value).__name__, str(value)) for name, value in principal.attributes.items()),
        _embed_scope(principal),
    )
    material = orjson.dumps(
        [
            identity.namespace,
            identity.registry_version,
            identity.policy_version,
            repr(identity.limits),
            who,
            operation_name,
            variables,
            query,
        ],
        option=orjson.OPT_SORT_KEYS,
    )
    tag = slot_tag(principal_key(principal.subject, principal.tenant))
    return f"{PREFIX}{tag}:{hashlib.sha256(material).hexdigest()}"


def _embed_scope(principal: Principal) -> list[Any] | None:
    """An embed session's scope, canonical (its models are a set): the session itself, its
    dashboards and its locked filters, each value with its type."""
    scope = principal.embed
    if scope is None:
        return None
    locked = [
        [f.model, f.member, str(f.op), [(type(v).__name__, str(v)) for v in f.values]] for f in scope.locked
    ]
    return [scope.session, sorted(scope.dashboards), sorted(scope.models), locked, scope.minted_by]


def may_cache(query: str) -> bool:
    return _RENEW.search(query) is None


def encode(tokens: Mapping[str, str], body: bytes) -> bytes:
    header = _encode_header(_Header(dict(tokens)))
    return _LENGTH.pack(len(header)) + header + body


def decode(raw: bytes) -> tuple[dict[str, str], bytes]:
    (length,) = _LENGTH.unpack_from(raw)
    start = _LENGTH.size
    return _decode_header(raw[start : start + length]).tokens, raw[start + length :]


class ResponseCache:
    """Reads (when the rate limiter does not read for it), checks and stores responses.
    Every Redis call is bounded by `timeout_s`; a failure is a miss or a skipped store."""

    def __init__(self, redis: Any | None, freshness: Freshness, *, timeout_s: float = 0.25) -> None:
        self.redis = redis
        self.freshness = freshness
        self.timeout_s = timeout_s
        self.hits = self.misses = self.outdated = self.failures = 0
        self._last_warning = 0.0

    @property
    def enabled(self) -> bool:
        return self.redis is not None

    async def get(self, key: str) -> bytes | None:
        if self.redis is None:
            return None
        try:
            async with asyncio.timeout(self.timeout_s):
                raw: bytes | None = await self.redis.get(key)
        except Exception as error:
            self._failed(error)
            return None
        return raw

    async def body_if_current(self, raw: bytes | None, registry: Registry) -> bytes | None:
        """The stored body, when every model it read still has the token it was built with."""
        if raw is None:
            self.misses += 1
            return None
        try:
            tokens, body = decode(raw)
        except (struct.error, msgspec.DecodeError):
            self.misses += 1  # written by another version: rewritten on this request
            return None
        for model, token in tokens.items():
            if model not in registry:
                self.outdated += 1
                return None
            current = await self.freshness.token(model, registry.model(model).refresh)
            if current.value != token:
                self.outdated += 1
                return None
        self.hits += 1
        return body

    async def set(self, key: str, tokens: Mapping[str, str], body: bytes, ttl_s: int) -> None:
        if self.redis is None:
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.redis.set(key, encode(tokens, body), ex=max(1, ttl_s))
        except Exception as error:
            self._failed(error)

    def _failed(self, error: BaseException) -> None:
        self.failures += 1
        now = time.monotonic()
        if now - self._last_warning > 30:
            self._last_warning = now
            log.warning("response cache unavailable (%s); answering through GraphQL", type(error).__name__)


async def flush_responses(redis: Any) -> int:
    """Delete every stored response: they are per principal, not per model, and any of them
    may hold a model's rows."""
    deleted = 0
    async for key in redis.scan_iter(match=PREFIX + "*", count=1_000):
        deleted += int(await redis.delete(key))
    return deleted
