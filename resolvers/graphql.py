"""The root field resolvers: a GraphQL field becomes a semantic query and its rows.

selection + arguments -> SemanticQuery -> access control -> EffectiveQuery ->
compiled SQL -> cache (keyed by that SQL and its parameters; resolvers/caching.py) or the
database -> rows projected straight into the response shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import strawberry

from authz.authorizer import Authorizer
from authz.principal import Principal
from cache.freshness import Token
from resolvers.arguments import order_items, where_filters
from resolvers.caching import ResultCaching
from resolvers.projection import ProjectedRows, rows_builder, shape_of
from resolvers.selection import Selection, SelectionReader
from resolvers.service import QueryService
from schema.graphql_types import Arguments
from schema.query import EffectiveQuery, SemanticQuery
from schema.registry import Registry

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Planned:
    """A root field planned but not run: what an export streams instead."""

    model: str
    effective: EffectiveQuery
    selection: Selection
    budget: float | None


@dataclass
class RequestContext:
    """Per-request data handed to resolvers through GraphQL's context."""

    principal: Principal
    cache: dict[str, dict[str, Any]] = field(default_factory=dict)  # per root field: hit, data as of
    rollups: dict[str, dict[str, Any]] = field(default_factory=dict)  # per root field: rollup or why not
    # What the answer read, for the response cache (api/response_cache.py): each model's
    # freshness token, and the shortest lifetime among them (None: nothing cacheable was read).
    tokens: dict[str, str] = field(default_factory=dict)
    ttl_s: int | None = None
    # Set by exports: root fields are authorized and recorded here, not run.
    planned: list[Planned] | None = None

    def read(self, models: Sequence[str], tokens: Sequence[Token], ttl_s: int) -> None:
        self.tokens.update(zip(models, (token.value for token in tokens), strict=True))
        self.ttl_s = ttl_s if self.ttl_s is None else min(self.ttl_s, ttl_s)


class ModelResolvers:
    def __init__(
        self,
        registry: Registry,
        service: QueryService,
        authorizer: Authorizer,
        caching: ResultCaching | None = None,
    ) -> None:
        self.registry = registry
        self.service = service
        self.authorizer = authorizer
        self.caching = caching
        self.selections = SelectionReader(registry)

    def semantic_query(self, model: str, info: Any, arguments: Arguments) -> tuple[SemanticQuery, Any]:
        selection = self.selections.read(model, info)
        query = SemanticQuery(
            model=model,
            measures=selection.measures,
            dimensions=selection.dimensions,
            filters=tuple(where_filters(self.registry, model, arguments.where)),
            segments=tuple(segment.value for segment in arguments.segments or ()),
            order=order_items(self.registry, model, arguments.order_by, selection.dimensions),
            limit=arguments.limit,
            offset=arguments.offset,
            timezone=arguments.timezone,
        )
        return query, selection

    async def resolve(self, model: str, info: strawberry.Info, arguments: Arguments) -> ProjectedRows:
        raw = info._raw_info
        query, selection = self.semantic_query(model, raw, arguments)
        # Access control scopes the query before any SQL exists.
        effective = self.authorizer.authorize(self.registry, raw.context.principal, query)
        # Checked against PostgreSQL's estimate before a statement runs (not for cached results).
        budget = self.authorizer.cost_budget(raw.context.principal)
        if raw.context.planned is not None:
            raw.context.planned.append(Planned(model, effective, selection, budget))
            return ProjectedRows([])
        compiled = self.service.compile(effective)
        if compiled.route is not None:
            raw.context.rollups[str(raw.path.key)] = dict(compiled.route)
        shape = shape_of(selection.items, compiled.columns)
        if self.caching is None or not self.caching.cache.enabled:
            result = await self.service.executor.run(compiled, budget)
            return ProjectedRows(rows_builder(shape)(result.rows))
        note: dict[str, Any] = {}
        raw.context.cache[str(raw.path.key)] = note

        async def run() -> bytes:
            result = await self.service.executor.run(compiled, budget)
            return _encode(rows_builder(shape)(result.rows))

        body = await self.caching.body(
            self.registry,
            self.authorizer.policy_version,
            compiled,
            shape,
            run,
            model=model,
            renew=arguments.renew,
            budget=budget,
            note=note,
            seen=raw.context.read,
        )
        return ProjectedRows(msgspec.Raw(body))
