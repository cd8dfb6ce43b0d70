"""The GraphQL schema, generated from the registry at start-up.

Per model: a root field, a row type (measures, dimensions, joined models as nested
objects), a `Where` input (every filter operator, AND / OR, nested through joins), an
`OrderBy` input and, when the model has segments, a `Segment` enum. Python attribute
names are the model files' member names; strawberry camel-cases them for GraphQL.

The root fields' work is handed in (`resolve`): this package knows the vocabulary,
not how queries run.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.types.unset import UNSET

from schema.graphql_meta import Meta, build_meta, dimension_data_type, measure_data_type
from schema.graphql_scalars import FILTER_FOR_TYPE, SCALARS, Direction, time_type
from schema.naming import camel, pascal
from schema.registry import Registry
from schema.spec import Dimension, ModelSpec

DEFAULT_TIMEZONE = "UTC"
NEVER_NULL_MEASURES = frozenset({"count", "count_distinct"})


@dataclass(frozen=True, slots=True)
class Arguments:
    """A root field's arguments as strawberry parsed them (inputs are generated classes)."""

    where: Any
    order_by: list[Any] | None
    limit: int | None
    offset: int
    timezone: str
    segments: list[enum.Enum] | None
    renew: bool = False


Resolve = Callable[[str, strawberry.Info, Arguments], Awaitable[Any]]


@dataclass
class _ModelTypes:
    row: type
    where: type
    order_by: type
    segment: type | None


def _describe(title: str | None, description: str | None) -> str | None:
    description = description.strip() if description else None
    if title and description:
        return f"{title}: {description}"
    return title or description


def _dimension_type(dimension: Dimension) -> Any:
    if dimension.type == "time":
        return time_type(dimension.granularities)
    if dimension.type == "number":
        return int if dimension.data_type == "integer" else float
    return {"string": str, "boolean": bool}[dimension.type]


def _dimension_filter(dimension: Dimension) -> type:
    if dimension.type == "number":
        return FILTER_FOR_TYPE[dimension_data_type(dimension) or "float"]
    return FILTER_FOR_TYPE[dimension.type]


class _Builder:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.types = {name: self._bare(spec) for name, spec in registry.models.items()}

    def _bare(self, spec: ModelSpec) -> _ModelTypes:
        name = pascal(spec.model)
        segment = None
        if spec.segments:
            members = {segment.upper(): segment for segment in spec.segments}
            values: Any = enum.Enum(f"{name}Segment", members)  # type: ignore[misc]
            segment = strawberry.enum(values, description=f"Named conditions of {spec.model}.")
        return _ModelTypes(
            type(name, (), {}), type(f"{name}Where", (), {}), type(f"{name}OrderBy", (), {}), segment
        )

    def fill(self, spec: ModelSpec) -> None:
        own = self.types[spec.model]
        row: dict[str, Any] = {}
        where: dict[str, Any] = {}
        order: dict[str, Any] = {}
        for name, measure in spec.measures.items():
            if not measure.public:
                continue
            value_type: Any = int if measure_data_type(measure) == "integer" else float
            description = _describe(measure.title, measure.description)
            # Counts are never NULL (0 for a group without rows); other aggregates can be.
            never_null = measure.type in NEVER_NULL_MEASURES
            annotation = value_type if never_null else value_type | None
            row[name] = (annotation, strawberry.field(default=None, description=description))
            filter_type = FILTER_FOR_TYPE[measure_data_type(measure)]
            where[name] = (
                filter_type | None,
                strawberry.field(default=UNSET, description="HAVING: on the aggregate."),
            )
            order[name] = (Direction | None, strawberry.field(default=UNSET))
        for name, dimension in spec.dimensions.items():
            if not dimension.public:
                continue
            description = _describe(dimension.title, dimension.description)
            value = _dimension_type(dimension)
            # A time dimension is an object (its grains), always present; its values may be NULL.
            annotation = value if dimension.type == "time" else value | None
            row[name] = (annotation, strawberry.field(default=None, description=description))
            where[name] = (_dimension_filter(dimension) | None, strawberry.field(default=UNSET))
            order[name] = (Direction | None, strawberry.field(default=UNSET))
        for name, join in spec.joins.items():
            target = self.types[join.model]
            description = join.description or f"Members of {join.model} ({join.relationship})."
            # Always an object (left joins: its values are NULL where nothing matches).
            row[name] = (target.row, strawberry.field(default=None, description=description))
            where[name] = (target.where | None, strawberry.field(default=UNSET))
            order[name] = (target.order_by | None, strawberry.field(default=UNSET))
        where["and_"] = (_optional_list(own.where), strawberry.field(name="AND", default=UNSET))
        where["or_"] = (_optional_list(own.where), strawberry.field(name="OR", default=UNSET))
        _assign(own.row, row)
        _assign(own.where, where)
        _assign(own.order_by, order)

    def decorate(self, spec: ModelSpec) -> None:
        own = self.types[spec.model]
        strawberry.type(own.row, description=_describe(spec.title, spec.description))
        strawberry.input(own.where, description=f"Conditions on {spec.model}; all must hold.")
        strawberry.input(
            own.order_by, description=f"Sort {spec.model} by selected members; one key per item."
        )

    def root_field(self, spec: ModelSpec, resolve: Resolve) -> Any:
        own = self.types[spec.model]
        model = spec.model

        async def resolver(info: strawberry.Info, **given: Any) -> Any:
            arguments = Arguments(
                where=given.get("where"),
                order_by=given.get("order_by"),
                limit=given.get("limit"),
                offset=given.get("offset", 0),
                timezone=given.get("timezone", DEFAULT_TIMEZONE),
                segments=given.get("segments"),
                renew=given.get("renew", False),
            )
            return await resolve(model, info, arguments)

        # The arguments depend on the model (its Where, OrderBy and Segment types, and a
        # segments argument only when it has segments): strawberry reads them from here.
        parameters: list[tuple[str, Any, Any]] = [
            ("where", own.where | None, None),
            ("order_by", _optional_list(own.order_by), None),
        ]
        parameters += [
            ("limit", _described(int | None, "Rows at most: 10,000 by default, 50,000 at most."), None),
            ("offset", _described(int, "Rows to skip, for paging."), 0),
            ("timezone", _described(str, "IANA timezone for time grains and dates."), DEFAULT_TIMEZONE),
            ("renew", _described(bool, "Skip the result cache and refill it."), False),
        ]
        if own.segment is not None:
            parameters.append(("segments", _optional_list(own.segment), None))
        info = inspect.Parameter("info", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=strawberry.Info)
        resolver.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [info]
            + [
                inspect.Parameter(
                    name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
                )
                for name, annotation, default in parameters
            ],
            return_annotation=_list(own.row),
        )
        resolver.__annotations__ = {
            "info": strawberry.Info,
            **{name: annotation for name, annotation, _ in parameters},
            "return": _list(own.row),
        }
        description = _describe(spec.title, spec.description)
        return strawberry.field(resolver=resolver, description=description)


def _described(annotation: Any, description: str) -> Any:
    return Annotated[annotation, strawberry.argument(description=description)]


def _optional_list(item: type) -> Any:
    """`list[item] | None` for a class made at run time."""
    return list[item] | None  # type: ignore[valid-type]


def _list(item: type) -> Any:
    """`list[item]` (never null: `[Row!]!`) for a class made at run time."""
    return list[item]  # type: ignore[valid-type]


def _assign(cls: type, fields: dict[str, tuple[Any, Any]]) -> None:
    cls.__annotations__ = {name: annotation for name, (annotation, _) in fields.items()}
    for name, (_, default) in fields.items():
        setattr(cls, name, default)


def build_schema(registry: Registry, resolve: Resolve) -> strawberry.Schema:
    builder = _Builder(registry)
    specs = list(registry.models.values())
    for spec in specs:
        builder.fill(spec)
    for spec in specs:
        builder.decorate(spec)
    meta = build_meta(registry)

    def resolve_meta() -> Meta:
        return meta

    namespace: dict[str, Any] = {
        "__annotations__": {camel(spec.model): _list(builder.types[spec.model].row) for spec in specs},
    }
    for spec in specs:
        namespace[camel(spec.model)] = builder.root_field(spec, resolve)
    namespace["__annotations__"]["meta"] = Meta
    namespace["meta"] = strawberry.field(resolver=resolve_meta, description="What can be queried.")
    query = strawberry.type(type("Query", (), namespace), description="One field per model.")
    return strawberry.Schema(query=query, config=StrawberryConfig(scalar_map=SCALARS))
