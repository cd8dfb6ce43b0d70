"""The cost of a query before it runs: PostgreSQL's estimate, `EXPLAIN (FORMAT JSON)` of the
compiled statement with its bound parameters (the planner sees the values, as it will when
the statement runs; nothing is spliced into the text).

Estimates are kept per compiled statement and parameters (`CostEstimates`, an LRU whose
entries expire after `ttl_s`, since statistics move as tables grow), so a repeated query
pays for EXPLAIN once; see bench/README.md for what it costs.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import asyncpg
import orjson

from resolvers.compiler import CompiledQuery
from resolvers.errors import QueryTooExpensive

EXPLAIN = "EXPLAIN (FORMAT JSON) "


async def explain(connection: asyncpg.Connection, query: CompiledQuery, timeout_s: float) -> dict[str, Any]:
    """The top plan node. The statement is prepared apart from asyncpg's statement cache,
    so estimates never evict the statements that run."""
    statement = await connection.prepare(EXPLAIN + query.sql, timeout=timeout_s)
    raw = await statement.fetchval(*query.params, timeout=timeout_s)
    # Text, or already decoded where a json codec is set (SQLAlchemy's pool sets one).
    document = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    plan: dict[str, Any] = document[0]["Plan"]
    return plan


def _key(query: CompiledQuery) -> Hashable:
    key = (query.sql, query.params)
    try:
        hash(key)
    except TypeError:  # an unhashable parameter (an array): its repr tells values apart too
        return (query.sql, repr(query.params))
    return key


class CostEstimates:
    def __init__(
        self, max_entries: int = 4_096, ttl_s: float = 600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self.clock = clock
        self.explained = 0  # EXPLAINs run (cache misses)
        self._entries: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def known(self, query: CompiledQuery) -> float | None:
        """The estimate kept for this statement and parameters, if it has not expired."""
        key = _key(query)
        entry = self._entries.get(key)
        if entry is None or entry[1] <= self.clock():
            return None
        self._entries.move_to_end(key)
        return entry[0]

    async def cost(self, connection: asyncpg.Connection, query: CompiledQuery, timeout_s: float) -> float:
        known = self.known(query)
        if known is not None:
            return known
        cost = float((await explain(connection, query, timeout_s))["Total Cost"])
        self.explained += 1
        key = _key(query)
        self._entries[key] = (cost, self.clock() + self.ttl_s)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return cost


def within_budget(cost: float, budget: float) -> None:
    """QueryTooExpensive when the estimate is over the budget."""
    if cost > budget:
        raise QueryTooExpensive(
            f"the query's estimated cost is {cost:,.0f}, over your budget of {budget:,.0f}: "
            "narrow it (filters, a shorter date range, fewer dimensions) and try again"
        )
