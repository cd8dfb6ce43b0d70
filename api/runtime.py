"""Everything that depends on the model files, built together and swapped together."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry

from api.documents import DocumentCache
from api.limits import Limits
from authz.authorizer import Authorizer
from resolvers.caching import ResultCaching
from resolvers.executor import Executor
from resolvers.graphql import ModelResolvers
from resolvers.rollups.catalog import RollupCatalog
from resolvers.service import QueryService
from schema.graphql_types import build_schema
from schema.registry import Registry


@dataclass(frozen=True, slots=True)
class Runtime:
    registry: Registry
    schema: strawberry.Schema
    documents: DocumentCache
    resolvers: ModelResolvers


def build_runtime(
    registry: Registry,
    executor: Executor,
    authorizer: Authorizer,
    limits: Limits,
    caching: ResultCaching | None = None,
    rollups: RollupCatalog | None = None,
) -> Runtime:
    service = QueryService(registry, executor, rollups=rollups)
    resolvers = ModelResolvers(registry, service, authorizer, caching)
    schema = build_schema(registry, resolvers.resolve)
    return Runtime(registry, schema, DocumentCache(schema._schema, limits), resolvers)
