"""The root field resolvers: a GraphQL field becomes a semantic query and its rows.

selection + arguments -> SemanticQuery -> access control -> EffectiveQuery ->
compiled SQL -> cache (keyed by that SQL and its parameters) or the database -> rows projected
straight into the response shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
import strawberry

from authz.authorizer import Authorizer
from authz.principal import Principal
from cache.freshness import Freshness, Token
from cache.keys import result_key
from cache.result_cache import Cached, ResultCache
from cache.single_flight import SingleFlight
from resolvers.arguments import order_items, where_filters
from resolvers.compiler import CompiledQuery
from resolvers.projection import ProjectedRows, Shape, rows_builder, shape_of
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
    # What the answer read, for the response cache (api/response_cache.py): each model's
    # freshness token, and the shortest lifetime among them (None: nothing cacheable was read).
    tokens: dict[str, str] = field(default_factory=dict)
    ttl_s: int | None = None
    # Set by exports: root fields are authorized and recorded here, not run.
    planned: list[Planned] | None = None

    def read(self, models: Iterable[str], tokens: Iterable[Token], ttl_s: int) -> None:
        self.tokens.update(zip(models, (token.value for token in tokens), strict=True))
        self.ttl_s = ttl_s if self.ttl_s is None else min(self.ttl_s, ttl_s)


@dataclass
class ResultCaching:
    """What the resolvers need to cache results; shared by every schema generation."""

    cache: ResultCache
    freshness: Freshness
    # Which warehouse the results come from: two deployments (or staging and production)
    # sharing a Redis must never read each other's entries.
    namespace: str = ""
    flights: SingleFlight = field(default_factory=SingleFlight)


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
        shape = shape_of(selection.items, compiled.columns)
        if self.caching is None or not self.caching.cache.enabled:
            result = await self.service.executor.run(compiled, budget)
            return ProjectedRows(rows_builder(shape)(result.rows))
        body = await self._cached(
            model, compiled, shape, arguments.renew, raw.context, str(raw.path.key), budget
        )
        return ProjectedRows(msgspec.Raw(body))

    async def _cached(
        self,
        model: str,
        compiled: CompiledQuery,
        shape: Shape,
        renew: bool,
        context: RequestContext,
        response_key: str,
        budget: float | None,
    ) -> bytes:
        assert self.caching is not None
        caching = self.caching
        tokens: list[Token] = []
        for name in compiled.models:
            tokens.append(await caching.freshness.token(name, self.registry.model(name).refresh))
        key = result_key(
            model,
            caching.namespace,
            self.registry.version,
            str(self.authorizer.policy_version),
            compiled.sql,  # the effective query as run: tenant filters are among its parameters
            repr(compiled.params),
            repr(shape),
            *(token.value for token in tokens),
        )
        ttl = min(token.ttl_s for token in tokens)
        context.read(compiled.models, tokens, ttl)
        known = [token.data_as_of for token in tokens if token.data_as_of is not None]
        as_of = max(known) if known else None
        note: dict[str, Any] = {"hit": False}
        context.cache[response_key] = note
        if not renew:
            cached = await caching.cache.get(key)
            if cached is not None:
                note.update(hit=True, dataAsOf=_iso(cached.data_as_of))
                return cached.body

        async def fill() -> bytes:
            result = await self.service.executor.run(compiled, budget)
            body = _encode(rows_builder(shape)(result.rows))
            await caching.cache.set(key, Cached(body, as_of), ttl)
            return body

        # One flight per budget too: a refusal under a small budget is not shared with a caller
        # whose budget allows the query.
        body = await caching.flights.run(f"{key}|{budget}", fill, fresh=renew)
        note["dataAsOf"] = _iso(as_of)
        return body


def _iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat()
