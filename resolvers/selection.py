"""What a GraphQL selection asks of a model: the members behind each response key.

The walk follows the GraphQL rules for collecting fields (aliases, fragment spreads,
inline fragments, @include / @skip with variables) over the document's AST, so the
query and the response shape come from one pass over the selection.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.execution.values import get_directive_values

from resolvers.errors import QueryError
from schema.naming import camel, pascal
from schema.query import DimensionRef
from schema.registry import Registry
from schema.spec import GRANULARITIES, Granularity, ModelSpec


@dataclass(frozen=True, slots=True)
class Column:
    """A response key filled from a result column."""

    key: str
    column: str  # DimensionRef.key or the measure key
    member: str = ""  # the member path it shows, e.g. "course.subject" (for column titles)
    grain: Granularity | None = None


@dataclass(frozen=True, slots=True)
class Constant:
    key: str
    value: str  # __typename


@dataclass(frozen=True, slots=True)
class Nested:
    key: str
    items: tuple[Item, ...]


Item = Column | Constant | Nested


@dataclass(frozen=True, slots=True)
class Selection:
    items: tuple[Item, ...]
    measures: tuple[str, ...]
    dimensions: tuple[DimensionRef, ...]


class _Fields:
    """GraphQL field name -> (kind, member name) per model."""

    def __init__(self, registry: Registry) -> None:
        self.by_model: dict[str, dict[str, tuple[str, str]]] = {}
        for name, spec in registry.models.items():
            fields: dict[str, tuple[str, str]] = {}
            fields.update({camel(m): ("measure", m) for m, s in spec.measures.items() if s.public})
            fields.update({camel(d): ("dimension", d) for d, s in spec.dimensions.items() if s.public})
            fields.update({camel(j): ("join", j) for j in spec.joins})
            self.by_model[name] = fields


class SelectionReader:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.fields = _Fields(registry)

    def read(self, model: str, info: Any) -> Selection:
        """The selection of a root field, from graphql-core's resolve info."""
        walk = _Walk(info.fragments, info.variable_values)
        measures: dict[str, None] = {}
        dimensions: dict[str, DimensionRef] = {}
        items = self._row(
            self.registry.model(model), (), walk.fields(info.field_nodes), walk, measures, dimensions
        )
        if not measures and not dimensions:
            raise QueryError(f"select at least one measure or dimension of {model}")
        return Selection(items, tuple(measures), tuple(dimensions.values()))

    def _row(
        self,
        spec: ModelSpec,
        path: tuple[str, ...],
        fields: Mapping[str, list[FieldNode]],
        walk: _Walk,
        measures: dict[str, None],
        dimensions: dict[str, DimensionRef],
    ) -> tuple[Item, ...]:
        items: list[Item] = []
        known = self.fields.by_model[spec.model]
        for key, nodes in fields.items():
            name = nodes[0].name.value
            if name == "__typename":
                items.append(Constant(key, pascal(spec.model)))
                continue
            kind, member = known[name]  # validation guarantees the field exists
            dotted = ".".join((*path, member))
            if kind == "measure":
                measures[dotted] = None
                items.append(Column(key, "__".join((*path, member)), dotted))
            elif kind == "join":
                target = self.registry.model(spec.joins[member].model)
                sub = walk.fields(nodes)
                items.append(Nested(key, self._row(target, (*path, member), sub, walk, measures, dimensions)))
            elif spec.dimensions[member].type == "time":
                items.append(Nested(key, self._time(spec, member, dotted, walk.fields(nodes), dimensions)))
            else:
                ref = DimensionRef(dotted)
                dimensions.setdefault(ref.key, ref)
                items.append(Column(key, ref.key, dotted))
        return tuple(items)

    def _time(
        self,
        spec: ModelSpec,
        member: str,
        dotted: str,
        fields: Mapping[str, list[FieldNode]],
        dimensions: dict[str, DimensionRef],
    ) -> tuple[Item, ...]:
        from schema.graphql_scalars import time_type

        items: list[Item] = []
        for key, nodes in fields.items():
            name = nodes[0].name.value
            if name == "__typename":
                type_name = time_type(spec.dimensions[member].granularities).__name__
                items.append(Constant(key, type_name))
                continue
            grain: Granularity | None = None if name == "value" else _grain(name)
            ref = DimensionRef(dotted, grain)
            dimensions.setdefault(ref.key, ref)
            items.append(Column(key, ref.key, dotted, grain))
        return tuple(items)


def _grain(name: str) -> Granularity:
    for grain in GRANULARITIES:
        if grain == name:
            return grain
    raise AssertionError(f"not a granularity: {name}")


class _Walk:
    """Collects fields by response key, as GraphQL's CollectFields does."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode], variables: Any) -> None:
        self.fragments = fragments
        self.variables = variables

    def _included(self, node: Any) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip is not None and skip["if"]:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return include is None or bool(include["if"])

    def fields(self, nodes: list[FieldNode]) -> dict[str, list[FieldNode]]:
        """The subfields of `nodes` (one response key's fields) by response key.

        As in GraphQL's CollectSubfields, a fragment is collected once for all of `nodes`,
        and a field node once however often it is reached: otherwise fields repeated at
        every level (`course { ...C } course { ...C }`) would multiply the work by their
        count at each level.
        """
        collected: dict[str, dict[int, FieldNode]] = {}
        seen: set[str] = set()
        for node in nodes:
            if node.selection_set is not None:
                for field in self._collect(node.selection_set, seen):
                    key = field.alias.value if field.alias else field.name.value
                    collected.setdefault(key, {}).setdefault(id(field), field)
        return {key: list(found.values()) for key, found in collected.items()}

    def _collect(self, selection_set: SelectionSetNode, seen: set[str]) -> Iterator[FieldNode]:
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from self._collect(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in self.fragments:
                    seen.add(name)
                    yield from self._collect(self.fragments[name].selection_set, seen)
