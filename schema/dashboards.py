"""Dashboards as files (`dashboards/*.yml`): tiles, each a semantic query with a chart kind,
and dashboard filters that tiles listen to through members of their own model.

The shape is checked by pydantic; `check` reads every tile against the registry (members,
grains, operators, segments, order, chart kind, listened filters) and returns every
problem at once, as the model rules do. Values of a tile's own filters are checked by the
planner when the tile runs, and by `cohort validate`, which plans every tile.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schema.issues import Issue
from schema.paths import PathError, walk
from schema.query import (
    MAX_LIMIT,
    NO_VALUES,
    ONE_VALUE,
    OPERATORS,
    TWO_VALUES,
    Condition,
    DimensionRef,
    FilterOp,
    OrderBy,
    SemanticQuery,
)
from schema.registry import Registry
from schema.spec import GRANULARITIES, NAME_PATTERN, Dimension, ModelSpec

ChartKind = Literal["line", "bar", "funnel", "number", "table"]
CHART_KINDS: tuple[ChartKind, ...] = ("line", "bar", "funnel", "number", "table")
FilterKind = Literal["date_range", "select"]
Value = str | int | float | bool


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TileFilter(_Spec):
    member: str
    op: FilterOp
    values: tuple[Value, ...] = ()


class TileOrder(_Spec):
    member: str  # a selected measure or dimension (with its grain: enrolled_at.month)
    desc: bool = False


class TileQuery(_Spec):
    model: str
    measures: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ()  # member paths; a time dimension takes a grain: enrolled_at.month
    filters: tuple[TileFilter, ...] = ()
    segments: tuple[str, ...] = ()  # the model's own segments
    order: tuple[TileOrder, ...] = ()
    limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT)


class Tile(_Spec):
    name: str = Field(pattern=NAME_PATTERN)
    title: str
    description: str | None = None
    chart: ChartKind
    query: TileQuery
    # Dashboard filter name -> the dimension of this tile's model it filters (a path).
    listen: dict[str, str] = Field(default_factory=dict)
    width: int = Field(default=6, ge=1, le=12)  # grid columns out of 12


class FilterOptions(_Spec):
    """Where a select filter's choices come from: the values of `value` in `model` (the
    viewer's own rows only, like every query), shown as `label`."""

    model: str
    value: str
    label: str | None = None


class DashboardFilter(_Spec):
    title: str
    type: FilterKind
    multiple: bool = False  # select: several values at once
    options: FilterOptions | None = None  # select only
    default: tuple[Value, ...] | None = None  # date_range: [from, to]; select: values


class Dashboard(_Spec):
    dashboard: str = Field(pattern=NAME_PATTERN)
    title: str
    description: str | None = None
    timezone: str = "UTC"  # the tiles' time grains and dates, unless the viewer sends another
    filters: dict[str, DashboardFilter] = Field(default_factory=dict)
    tiles: tuple[Tile, ...]

    def models(self) -> frozenset[str]:
        """The models its tiles and filter choices query (as the root field)."""
        options = {f.options.model for f in self.filters.values() if f.options is not None}
        return frozenset({tile.query.model for tile in self.tiles} | options)


@dataclass(frozen=True, slots=True)
class LoadedDashboard:
    file: str
    spec: Dashboard


# --- loading -----------------------------------------------------------------------


def load_text(text: str, file: str) -> tuple[Dashboard | None, list[Issue]]:
    name = Path(file).stem
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return None, [Issue(file, name, f"not valid YAML: {exc}")]
    if not isinstance(data, dict):
        return None, [Issue(file, name, "a dashboard file must be a mapping")]
    name = str(data.get("dashboard") or name)
    try:
        return Dashboard.model_validate(data), []
    except ValidationError as exc:
        issues = []
        for error in exc.errors():
            where = ".".join([name, *_named(data, error["loc"])])
            issues.append(Issue(file, where, error["msg"]))
        return None, issues


def _named(data: dict[Any, Any], loc: tuple[int | str, ...]) -> list[str]:
    """A pydantic location with a tile's name for its index: tiles.by_month.chart."""
    parts = [str(part) for part in loc]
    tiles = data.get("tiles")
    if len(loc) >= 2 and loc[0] == "tiles" and isinstance(loc[1], int) and isinstance(tiles, list):
        tile = tiles[loc[1]] if loc[1] < len(tiles) else None
        if isinstance(tile, dict) and isinstance(tile.get("name"), str):
            parts[1] = tile["name"]
    return parts


def load_directory(directory: Path) -> tuple[list[LoadedDashboard], list[Issue]]:
    """Every dashboard file in `directory` (none if it does not exist), with the issues
    of their shape."""
    loaded: list[LoadedDashboard] = []
    issues: list[Issue] = []
    if not directory.is_dir():
        return loaded, issues
    for path in sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")]):
        spec, found = load_text(path.read_text(encoding="utf-8"), path.name)
        issues += found
        if spec is not None:
            loaded.append(LoadedDashboard(path.name, spec))
    return loaded, issues


# --- reading tiles -------------------------------------------------------------------


def dimension_ref(registry: Registry, model: ModelSpec, text: str) -> DimensionRef:
    """`enrolled_at.month` is the month grain of enrolled_at; `course.subject` a path."""
    head, _, last = text.rpartition(".")
    if head and last in GRANULARITIES:
        try:
            steps, name = walk(registry, model, head)
        except PathError:
            pass
        else:
            dimension = steps[-1].model.dimensions.get(name)
            if dimension is not None and dimension.type == "time":
                return DimensionRef(head, last)
    return DimensionRef(text)


def semantic_query(registry: Registry, tile: Tile, timezone: str = "UTC") -> SemanticQuery:
    """The tile's query in the registry's vocabulary (dashboard filters not applied)."""
    query = tile.query
    model = registry.model(query.model)
    dimensions = tuple(dimension_ref(registry, model, text) for text in query.dimensions)
    order = []
    for item in query.order:
        ref = dimension_ref(registry, model, item.member)
        order.append(OrderBy(ref.member, ref.granularity, item.desc))
    return SemanticQuery(
        model=query.model,
        measures=query.measures,
        dimensions=dimensions,
        filters=tuple(Condition(f.member, f.op, f.values) for f in query.filters),
        segments=query.segments,
        order=tuple(order),
        limit=query.limit,
        timezone=timezone,
    )


# --- checks --------------------------------------------------------------------------


_VALUE_COUNTS = {**dict.fromkeys(NO_VALUES, 0), **dict.fromkeys(ONE_VALUE, 1), **dict.fromkeys(TWO_VALUES, 2)}


class _Checker:
    def __init__(self, registry: Registry, loaded: LoadedDashboard) -> None:
        self.registry = registry
        self.file = loaded.file
        self.spec = loaded.spec
        self.issues: list[Issue] = []

    def report(self, where: str, reason: str) -> None:
        self.issues.append(Issue(self.file, f"{self.spec.dashboard}.{where}", reason))

    def member(self, where: str, model: ModelSpec, path: str) -> tuple[ModelSpec, str] | None:
        """The model a path ends in and the member's name, or None (reported)."""
        try:
            steps, name = walk(self.registry, model, path)
        except PathError as error:
            self.report(where, str(error))
            return None
        return steps[-1].model, name

    def dimension(self, where: str, model: ModelSpec, path: str) -> Dimension | None:
        found = self.member(where, model, path)
        if found is None:
            return None
        target, name = found
        dimension = target.dimensions.get(name)
        if dimension is None or not dimension.public:
            self.report(where, f"unknown dimension {path!r} on {model.model}")
            return None
        return dimension

    def _time_dimension(self, model: ModelSpec, path: str) -> bool:
        try:
            steps, name = walk(self.registry, model, path)
        except PathError:
            return False
        dimension = steps[-1].model.dimensions.get(name)
        return dimension is not None and dimension.type == "time"

    def check(self) -> list[Issue]:
        if not self.spec.tiles:
            self.report("tiles", "a dashboard needs at least one tile")
        names = [tile.name for tile in self.spec.tiles]
        for name in sorted({n for n in names if names.count(n) > 1}):
            self.report(f"tiles.{name}", "two tiles have this name")
        listened: set[str] = set()
        for tile in self.spec.tiles:
            listened |= set(tile.listen)
            self.tile(tile)
        for name, spec in self.spec.filters.items():
            self.dashboard_filter(name, spec)
            if name not in listened:
                self.report(f"filters.{name}", "no tile listens to this filter")
        return self.issues

    def tile(self, tile: Tile) -> None:
        where = f"tiles.{tile.name}"
        query = tile.query
        if query.model not in self.registry:
            self.report(f"{where}.query.model", f"unknown model {query.model!r}")
            return
        model = self.registry.model(query.model)
        selected: dict[str, str] = {}  # key -> kind (measure, time, dimension)
        for measure in query.measures:
            found = self.member(f"{where}.query.measures", model, measure)
            if found is None:
                continue
            target, name = found
            spec = target.measures.get(name)
            if spec is None or not spec.public:
                self.report(f"{where}.query.measures", f"unknown measure {measure!r} on {model.model}")
                continue
            selected[measure] = "measure"
        for text in query.dimensions:
            ref = dimension_ref(self.registry, model, text)
            if ref.granularity is None and self._time_dimension(model, text.rpartition(".")[0]):
                grains = ", ".join(GRANULARITIES)
                self.report(f"{where}.query.dimensions", f"{text!r}: a time grain is one of {grains}")
                continue
            dimension = self.dimension(f"{where}.query.dimensions", model, ref.member)
            if dimension is None:
                continue
            if ref.granularity and dimension.granularities and ref.granularity not in dimension.granularities:
                self.report(f"{where}.query.dimensions", f"{ref.member!r} has no grain {ref.granularity!r}")
            selected[text] = "time" if ref.granularity is not None else "dimension"
        for item in query.filters:
            self.tile_filter(f"{where}.query.filters", model, item)
        for segment in query.segments:
            if segment not in model.segments:
                self.report(f"{where}.query.segments", f"unknown segment {segment!r} of {model.model}")
        for order in query.order:
            if order.member not in selected:
                self.report(f"{where}.query.order", f"{order.member!r} is not selected")
        self.chart(where, tile, selected)
        for name, path in tile.listen.items():
            self.listen(f"{where}.listen.{name}", model, name, path)

    def tile_filter(self, where: str, model: ModelSpec, item: TileFilter) -> None:
        found = self.member(where, model, item.member)
        if found is None:
            return
        target, name = found
        if name in target.measures:
            kind = "measure"
        elif name in target.dimensions and target.dimensions[name].public:
            kind = target.dimensions[name].type
        else:
            self.report(where, f"unknown member {item.member!r} on {model.model}")
            return
        if item.op not in OPERATORS[kind]:  # type: ignore[index]
            self.report(where, f"{item.op} is not an operator for {item.member!r} (a {kind})")
        count = len(item.values)
        expected = {
            **dict.fromkeys(NO_VALUES, 0),
            **dict.fromkeys(ONE_VALUE, 1),
            **dict.fromkeys(TWO_VALUES, 2),
        }
        wanted = expected.get(item.op)
        if count != wanted if wanted is not None else count == 0:
            shown = "one or more" if wanted is None else str(wanted)
            self.report(where, f"{item.op} on {item.member!r} takes {shown} value(s), got {count}")

    def chart(self, where: str, tile: Tile, selected: dict[str, str]) -> None:
        first = tile.query.dimensions[0] if tile.query.dimensions else None
        problem = None
        match tile.chart:
            case "number":
                if len(tile.query.measures) != 1 or tile.query.dimensions:
                    problem = "a number tile shows one measure and no dimensions"
            case "line":
                if not tile.query.measures or first is None or selected.get(first) != "time":
                    problem = "a line tile needs a measure and, first among its dimensions, a time grain"
                elif len(tile.query.dimensions) > 2:
                    problem = "a line tile has a time grain and at most one series dimension"
            case "bar":
                if not tile.query.measures or not 1 <= len(tile.query.dimensions) <= 2:
                    problem = "a bar tile needs a measure and one or two dimensions"
            case "funnel":
                if not tile.query.measures or len(tile.query.dimensions) != 1:
                    problem = "a funnel tile needs a measure and exactly one dimension (its steps)"
                elif not tile.query.order or tile.query.order[0].member != first:
                    problem = f"a funnel tile orders its steps first: order: [{{member: {first}}}]"
            case "table":
                if not tile.query.measures and not tile.query.dimensions:
                    problem = "a table tile needs a measure or a dimension"
        if problem is not None:
            self.report(f"{where}.chart", problem)

    def listen(self, where: str, model: ModelSpec, name: str, path: str) -> None:
        spec = self.spec.filters.get(name)
        if spec is None:
            self.report(where, f"the dashboard has no filter {name!r}")
            return
        dimension = self.dimension(where, model, path)
        if dimension is None:
            return
        if spec.type == "date_range" and dimension.type != "time":
            self.report(where, f"a date_range filter needs a time dimension; {path!r} is a {dimension.type}")
        if spec.type == "select" and dimension.type == "time":
            self.report(
                where, f"a select filter needs a string, number or boolean dimension; {path!r} is a time"
            )

    def dashboard_filter(self, name: str, spec: DashboardFilter) -> None:
        where = f"filters.{name}"
        if spec.type == "date_range":
            if spec.multiple or spec.options is not None:
                self.report(where, "multiple and options are for select filters")
            if spec.default is not None and len(spec.default) != 2:
                self.report(f"{where}.default", "a date_range default is [from, to]")
            return
        if spec.default is not None and len(spec.default) > 1 and not spec.multiple:
            self.report(f"{where}.default", "one default value, unless the filter is multiple")
        if spec.options is None:
            return
        options = spec.options
        if options.model not in self.registry:
            self.report(f"{where}.options.model", f"unknown model {options.model!r}")
            return
        model = self.registry.model(options.model)
        for part, path in (("value", options.value), ("label", options.label)):
            if path is not None:
                dimension = self.dimension(f"{where}.options.{part}", model, path)
                if dimension is not None and dimension.type == "time":
                    self.report(f"{where}.options.{part}", f"{path!r} is a time dimension")


def check(registry: Registry, loaded: list[LoadedDashboard]) -> list[Issue]:
    issues: list[Issue] = []
    names: dict[str, str] = {}
    for dashboard in loaded:
        name = dashboard.spec.dashboard
        if name in names:
            issues.append(Issue(dashboard.file, name, f"another file ({names[name]}) defines this dashboard"))
        names.setdefault(name, dashboard.file)
        issues += _Checker(registry, dashboard).check()
    return issues


def tiles(dashboards: Iterator[Dashboard]) -> Iterator[tuple[Dashboard, Tile]]:
    for dashboard in dashboards:
        for tile in dashboard.tiles:
            yield dashboard, tile
