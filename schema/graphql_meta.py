"""`meta`: the models, measures, dimensions, segments and joins, and the dashboards, for
self-serve UIs."""

from __future__ import annotations

import strawberry

from schema.dashboard_documents import tile_document
from schema.dashboards import Dashboard
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


@strawberry.type(description="A dashboard filter; tiles listen to it through members of their own.")
class MetaDashboardFilter:
    name: str
    title: str
    type: str = strawberry.field(description="date_range or select.")
    multiple: bool = strawberry.field(description="A select filter that takes several values.")


@strawberry.type(description="Which member of a tile's model a dashboard filter filters.")
class MetaListen:
    filter: str
    member: str = strawberry.field(description="A dimension path from the tile's model.")


@strawberry.type(description="A tile: one semantic query shown as a chart.")
class MetaTile:
    name: str
    title: str
    description: str | None
    chart: str = strawberry.field(description="line, bar, funnel, number or table.")
    width: int = strawberry.field(description="Grid columns out of 12.")
    model: str
    measures: list[str]
    dimensions: list[str] = strawberry.field(description="Member paths; time grains as enrolled_at.month.")
    listen: list[MetaListen]
    document: str = strawberry.field(
        description="The GraphQL document of the tile (variables $where, $timezone)."
    )


@strawberry.type(description="A dashboard from the dashboard files.")
class MetaDashboard:
    name: str
    title: str
    description: str | None
    timezone: str
    filters: list[MetaDashboardFilter]
    tiles: list[MetaTile]


@strawberry.type(description="What can be queried.")
class Meta:
    version: str = strawberry.field(description="Changes whenever a model file changes.")
    models: list[MetaModel]
    dashboards: list[MetaDashboard]


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


def _dashboard(registry: Registry, dashboard: Dashboard) -> MetaDashboard:
    return MetaDashboard(
        name=dashboard.dashboard,
        title=dashboard.title,
        description=dashboard.description,
        timezone=dashboard.timezone,
        filters=[
            MetaDashboardFilter(name=name, title=spec.title, type=spec.type, multiple=spec.multiple)
            for name, spec in dashboard.filters.items()
        ],
        tiles=[
            MetaTile(
                name=tile.name,
                title=tile.title,
                description=tile.description,
                chart=tile.chart,
                width=tile.width,
                model=tile.query.model,
                measures=list(tile.query.measures),
                dimensions=list(tile.query.dimensions),
                listen=[MetaListen(filter=name, member=member) for name, member in tile.listen.items()],
                document=tile_document(registry, dashboard, tile),
            )
            for tile in dashboard.tiles
        ],
    )


def build_meta(registry: Registry) -> Meta:
    return Meta(
        version=registry.version,
        models=[_model(spec) for spec in registry.models.values()],
        dashboards=[_dashboard(registry, dashboard) for dashboard in registry.dashboards.values()],
    )
