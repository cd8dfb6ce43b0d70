"""The query path in one call: plan, compile, execute."""

from __future__ import annotations

from resolvers.compiler import CompiledQuery, compile_plan
from resolvers.executor import Executor, QueryResult
from resolvers.planner import plan
from schema.query import EffectiveQuery
from schema.registry import Registry


class QueryService:
    def __init__(self, registry: Registry, executor: Executor) -> None:
        self.registry = registry
        self.executor = executor

    def compile(self, query: EffectiveQuery) -> CompiledQuery:
        return compile_plan(plan(self.registry, query))

    async def run(self, query: EffectiveQuery) -> QueryResult:
        return await self.executor.run(self.compile(query))
