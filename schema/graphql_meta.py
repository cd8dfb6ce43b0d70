"""`meta`: the models, measures, dimensions, segments and joins, for self-serve UIs."""

from __future__ import annotations

import strawberry

from schema.naming import camel
from schema.registry import Registry
from schema.spec import GRANULARITIES, Dimension, Measure, ModelSpec


@strawberry.type(description="A measure: an aggregate clients can select.")
class MetaMeasure:
    name: str = strawberry.field(description="The GraphQL field name.")
    member: str = strawberry.field(description="The name in the model file.")
    title: str | None
    description: str | None
    type: str = strawberry.field(description="count, count_distinct, sum, avg, min, max, ratio or number.")
    data_type: str = strawberry.field(description="integer or float: the GraphQL type of its values.")
    format: str | None


@strawberry.type(description="A dimension: a value clients can group and filter by.")
class MetaDimension:
    name: str
    member: str
    title: str | None
    description: str | None
    type: str = strawberry.field(description="string, number, boolean or time.")
    data_type: str | None = strawberry.field(description="integer or float, for number dimensions.")
    format: str | None
    granularities: list[str] = strawberry.field(description="Grains of a time dimension; empty otherwise.")


@strawberry.type
class MetaSegment:
    name: str
    title: str | None
    description: str | None


@strawberry.type(description="A join to another model; its members nest under `name`.")
class MetaJoin:
    name: str
    model: str
    relationship: str


@strawberry.type
class MetaModel:
    name: str = strawberry.field(description="The root query field.")
    model: str = strawberry.field(description="The name in the model files.")
    title: str | None
    description: str | None
    measures: list[MetaMeasure]
    dimensions: list[MetaDimension]
    segments: list[MetaSegment]
    joins: list[MetaJoin]


@strawberry.type(description="What can be queried.")
class Meta:
    version: str = strawberry.field(description="Changes whenever a model file changes.")
    models: list[MetaModel]


def measure_data_type(measure: Measure) -> str:
    if measure.type in ("count", "count_distinct"):
        return "integer"
    if measure.type in ("avg", "ratio"):
        return "float"
    return measure.data_type or "float"


def dimension_data_type(dimension: Dimension) -> str | None:
    return (dimension.data_type or "float") if dimension.type == "number" else None


def _model(spec: ModelSpec) -> MetaModel:
    return MetaModel(
        name=camel(spec.model),
        model=spec.model,
        title=spec.title,
        description=spec.description,
        measures=[
            MetaMeasure(
                name=camel(name),
                member=name,
                title=m.title,
                description=m.description,
                type=m.type,
                data_type=measure_data_type(m),
                format=m.format,
            )
            for name, m in spec.measures.items()
            if m.public
        ],
        dimensions=[
            MetaDimension(
                name=camel(name),
                member=name,
                title=d.title,
                description=d.description,
                type=d.type,
                data_type=dimension_data_type(d),
                format=d.format,
                granularities=list(d.granularities or GRANULARITIES) if d.type == "time" else [],
            )
            for name, d in spec.dimensions.items()
            if d.public
        ],
        segments=[
            MetaSegment(name=name, title=s.title, description=s.description)
            for name, s in spec.segments.items()
        ],
        joins=[
            MetaJoin(name=camel(name), model=j.model, relationship=j.relationship)
            for name, j in spec.joins.items()
        ],
    )


def build_meta(registry: Registry) -> Meta:
    return Meta(version=registry.version, models=[_model(spec) for spec in registry.models.values()])
