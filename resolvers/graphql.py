"""The root field resolvers: a GraphQL field becomes a semantic query and its rows.

selection + arguments -> SemanticQuery -> (access control, next) -> QueryService ->
rows projected straight into the response shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry

from authz.authorizer import Authorizer
from authz.principal import Principal
from resolvers.arguments import order_items, where_filters
from resolvers.projection import ProjectedRows, project
from resolvers.selection import SelectionReader
from resolvers.service import QueryService
from schema.graphql_types import Arguments
from schema.query import SemanticQuery
from schema.registry import Registry


@dataclass
class RequestContext:
    """Per-request data handed to resolvers through GraphQL's context."""

    principal: Principal


class ModelResolvers:
    def __init__(self, registry: Registry, service: QueryService, authorizer: Authorizer) -> None:
        self.registry = registry
        self.service = service
        self.authorizer = authorizer
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
        result = await self.service.run(effective)
        return project(selection.items, result.columns, result.rows)
