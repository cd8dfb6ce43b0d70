"""The query path in one call: plan, choose a rollup or the raw tables, compile (cached),
execute."""

from __future__ import annotations

import logging
from collections import OrderedDict

from resolvers.compiler import CompiledQuery, compile_plan
from resolvers.executor import Executor, QueryResult
from resolvers.planner import plan
from resolvers.rollups.catalog import RollupCatalog
from resolvers.rollups.compiler import compile_rollup, with_watermark
from resolvers.rollups.layout import layouts
from resolvers.rollups.matcher import choose
from schema.query import MAX_LIMIT, EffectiveQuery
from schema.registry import Registry

log = logging.getLogger("cohort.rollups")


class QueryService:
    """Plans and compiles each distinct effective query once (0.2-1.4 ms saved per
    repeat, see bench/README.md), then runs it. With a rollup catalog, a query the matcher
    accepts (resolvers/rollups/matcher.py: after authorization, on the effective query) is
    compiled against the rollup; the choice, or the reason for a miss, is logged once per
    compiled query and reported in the CompiledQuery's `route`."""

    def __init__(
        self,
        registry: Registry,
        executor: Executor,
        compiled_cache_size: int = 4096,
        rollups: RollupCatalog | None = None,
    ) -> None:
        self.registry = registry
        self.executor = executor
        self.rollups = rollups
        self.layouts = layouts(registry.models) if rollups is not None else []
        self._compiled: OrderedDict[str, CompiledQuery] = OrderedDict()
        self._cache_size = compiled_cache_size

    def compile(self, query: EffectiveQuery, max_limit: int = MAX_LIMIT) -> CompiledQuery:
        # repr, not the dataclass itself: 1, 1.0 and True are equal keys, but not the same input.
        # The largest limit allowed is part of the key: an export's compiled query must never
        # answer a page query whose limit is over the page maximum. So is the rollups'
        # generation: a rollup built or rebuilt since changes the choice.
        generation = self.rollups.generation if self.rollups is not None else 0
        key = f"{max_limit}|{generation}|{query!r}"
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compile(query, max_limit)
            self._compiled[key] = compiled
            if len(self._compiled) > self._cache_size:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(key)
        current = self._current(compiled)
        if current is not compiled:  # a newer watermark: rebind once, not on every request
            self._compiled[key] = current
        return current

    def _current(self, compiled: CompiledQuery) -> CompiledQuery:
        """A rollup's query with the watermark the server knows now (its statement reads the
        exact one; this one guides PostgreSQL's plan and the result cache's key)."""
        if compiled.watermark_at is None or self.rollups is None or compiled.route is None:
            return compiled
        keys = [compiled.route["rollup"]]
        if "exactCountsFrom" in compiled.route:
            keys.append(compiled.route["exactCountsFrom"])
        states = [state for state in map(self.rollups.states.get, keys) if state is not None]
        if len(states) < len(keys) or compiled.route.get("watermark") == states[0].watermark:
            return compiled
        layout = next(layout for layout in self.layouts if layout.key == keys[0])
        return with_watermark(compiled, layout, states)

    def _compile(self, query: EffectiveQuery, max_limit: int) -> CompiledQuery:
        planned = plan(self.registry, query, max_limit)
        candidates = [layout for layout in self.layouts if layout.model.model == planned.root]
        if self.rollups is None or not candidates:
            return compile_plan(planned)
        choice = choose(planned, candidates, self.rollups.states)
        if choice.layout is not None and choice.state is not None:
            log.info("%s: served from rollup %s", planned.root, choice.layout.key)
            return compile_rollup(planned, choice.layout, choice.state, choice.checker)
        log.info("%s: raw tables (%s)", planned.root, choice.reason)
        raw = compile_plan(planned)
        return CompiledQuery(
            raw.sql, raw.params, raw.columns, raw.models, route={"rollup": None, "reason": choice.reason}
        )

    async def run(self, query: EffectiveQuery) -> QueryResult:
        return await self.executor.run(self.compile(query))
