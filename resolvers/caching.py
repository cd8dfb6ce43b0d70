"""Cached results on the request path.

freshness tokens -> keys -> Redis. A fresh result is a hit. Otherwise, within the query's
stale window, the last result stored is served at once (marked stale) and one refresh
starts in the background. Otherwise the statement runs once per key: once per process
(SingleFlight), and once across processes and hosts (a lease in Redis, cache/lease.py),
which stores the result for the others. Errors are never cached; `renew` reads nothing
(neither fresh nor stale results) and runs the statement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from cache.freshness import Freshness, Token
from cache.keys import query_keys
from cache.lease import Leases
from cache.result_cache import Cached, Latest, ResultCache
from cache.revalidation import Revalidations
from cache.single_flight import SingleFlight
from resolvers.compiler import CompiledQuery
from resolvers.projection import Shape
from schema.registry import Registry
from schema.spec import Refresh


@dataclass
class ResultCaching:
    """What the resolvers need to cache results; shared by every schema generation."""

    cache: ResultCache
    freshness: Freshness
    # Which warehouse the results come from: two deployments (or staging and production)
    # sharing a Redis must never read each other's entries.
    namespace: str = ""
    # Seconds a result may be served stale after it stops being fresh (COHORT_CACHE_STALE_S);
    # a model's `refresh.stale_while_revalidate` overrides it; 0: never.
    stale_s: int = 0
    # The lease that shares a miss across processes, and the bound of a wait for another
    # process's result (the statement's own bound plus the lease): see cache/lease.py.
    lease_ms: int = 2_000
    lease_wait_s: float = 30.0
    flights: SingleFlight = field(default_factory=SingleFlight)
    revalidations: Revalidations = field(default_factory=Revalidations)
    leases: Leases = field(init=False)
    stale_hits: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.leases = Leases(self.cache, lease_ms=self.lease_ms, wait_s=self.lease_wait_s)

    async def aclose(self) -> None:
        """Cancel the background refreshes still running (the app's shutdown)."""
        await self.revalidations.aclose()

    def stale_window(self, rule: Refresh) -> int:
        return self.stale_s if rule.stale_while_revalidate is None else rule.stale_while_revalidate

    async def body(
        self,
        registry: Registry,
        policy_version: int,
        compiled: CompiledQuery,
        shape: Shape,
        run: Callable[[], Awaitable[bytes]],  # the statement, projected: the JSON of the rows
        *,
        model: str,
        renew: bool,
        budget: float | None,
        note: dict[str, Any],  # the answer's `extensions.cache` entry, filled in here
        seen: Callable[[Sequence[str], Sequence[Token], int], None] | None = None,  # models read, tokens, ttl
    ) -> bytes:
        rules = [registry.model(name).refresh for name in compiled.models]
        tokens = [
            await self.freshness.token(name, rule) for name, rule in zip(compiled.models, rules, strict=True)
        ]
        keys = query_keys(
            model,
            self.namespace,
            registry.version,
            str(policy_version),
            compiled.sql,  # the effective query as run: tenant filters are among its parameters
            repr(compiled.params),
            repr(shape),
        )
        values = tuple(token.value for token in tokens)
        key = keys.result(values)
        ttl = min(token.ttl_s for token in tokens)
        if seen is not None:
            seen(compiled.models, tokens, ttl)
        known = [token.data_as_of for token in tokens if token.data_as_of is not None]
        as_of = max(known) if known else None
        stale_s = min(self.stale_window(rule) for rule in rules)
        note["hit"] = False

        async def produce() -> tuple[Cached, bool]:
            value = Cached(await run(), as_of)
            stored = await self.cache.set(key, value, ttl)
            if stored and stale_s > 0:
                latest = Latest(value, values, self.freshness.clock() + ttl)
                await self.cache.set_latest(keys.latest, latest, ttl + stale_s)
            return value, stored

        async def fill() -> Cached:
            if renew:
                value, _ = await produce()
                return value
            return await self.leases.fill(key, keys.lease(values), produce)

        # One flight per budget too: a refusal under a small budget is not shared with a caller
        # whose budget allows the query.
        flight = f"{key}|{budget}"
        if not renew:
            cached = await self.cache.get(key)
            if cached is not None:
                note.update(hit=True, dataAsOf=_iso(cached.data_as_of))
                return cached.body
            if stale_s > 0 and not self.cache.recently_failed():
                latest = await self.cache.get_latest(keys.latest)
                state = None if latest is None else _state(latest, tokens, self.freshness.clock(), stale_s)
                if latest is not None and state != "expired":
                    note.update(hit=True, dataAsOf=_iso(latest.value.data_as_of))
                    if state == "stale":
                        note["stale"] = True
                        self.stale_hits += 1
                        self.revalidations.start(flight, lambda: self.flights.run(flight, fill))
                    return latest.value.body
        value = await self.flights.run(flight, fill, fresh=renew)
        note["dataAsOf"] = _iso(value.data_as_of)
        return value.body


def _state(
    latest: Latest, tokens: Sequence[Token], now: float, stale_s: int
) -> Literal["fresh", "stale", "expired"]:
    """A result stops being fresh when its TTL runs out or when a refresh rule saw new data
    (its token changed: the data changed at the new token's data-as-of, as far as the rule
    can tell); it may be served stale for `stale_s` seconds after that."""
    if len(latest.tokens) != len(tokens):
        return "expired"
    stale_since = latest.fresh_until
    for stored, current in zip(latest.tokens, tokens, strict=True):
        if stored != current.value:
            changed = current.data_as_of if current.data_as_of is not None else now
            stale_since = min(stale_since, changed)
    if now < stale_since:
        return "fresh"
    return "stale" if now < stale_since + stale_s else "expired"


def _iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat()
