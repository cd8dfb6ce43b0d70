"""Compilation: a Plan becomes one SQLAlchemy Core SELECT, then SQL text and parameters.

Measures stay correct across joins. When the join tree repeats a model's rows (see
`planner._multiplied`), that model's aggregates are computed over its distinct primary
keys per group (Cube's approach): a `keys` subquery selects the distinct
(dimensions, primary key) pairs under the query's filters, the model is left-joined back
on its key and aggregated, and the per-model parts are stacked and folded per group.
Queries without repeated rows compile to a single plain GROUP BY.

The groups always come from the root model's rows under the query's filters (the
`keys` subquery is a left join from the root, and so is the plain GROUP BY), whatever
measures are selected: a group in which a measured model has no rows is kept, with
counts 0 and sums, averages and ratios NULL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.sql.elements import ColumnElement

from resolvers import sql
from resolvers.filters import filter_sql
from resolvers.plan import Node, Path, Plan, PlannedDimension, PlannedMeasure
from schema.snippets import parse
from schema.spec import Dimension, Measure, ModelSpec

MASK = "***"  # what a masked text dimension shows
DIALECT = asyncpg.dialect()  # type: ignore[no-untyped-call]
BaseKey = tuple[Path, str]  # (node path, base measure name)
Lookup = Callable[[BaseKey], ColumnElement[Any]]

_DIMENSION_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "string": sa.String(),
    "number": sa.Float(),
    "boolean": sa.Boolean(),
    "time": sa.DateTime(timezone=True),
}
_BASE = frozenset({"count", "count_distinct", "sum", "avg", "min", "max"})
_COUNTS = frozenset({"count", "count_distinct"})


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    sql: str
    params: tuple[Any, ...]
    columns: tuple[str, ...]
    models: tuple[str, ...] = ()  # every model the statement reads (for cache freshness)
    # Where the answer comes from, for `extensions.rollups`: the rollup serving it (with its
    # watermark when compiled), or why none could (None: the model has no rollups).
    route: Mapping[str, Any] | None = None
    watermark_at: tuple[int, ...] | None = None  # the parameters holding a rollup's known watermark


def _value_type(data_type: str | None) -> sa.types.TypeEngine[Any]:
    return sa.BigInteger() if data_type == "integer" else sa.Float()


def _label(key: BaseKey) -> str:
    return "__".join((*key[0], key[1]))


class Builder:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.timezone = sa.bindparam("timezone", plan.timezone, type_=sa.String())
        self.dimension_sql = {d.key: self._dimension(d) for d in plan.dimensions}
        # Masked dimensions are constants: PostgreSQL refuses constants in GROUP BY.
        self.grouping = [self.dimension_sql[d.key] for d in plan.dimensions if not d.masked]

    # --- expressions -------------------------------------------------------------

    def node(self, path: Path) -> Node:
        return self.plan.nodes[path]

    def raw_dimension(self, path: Path, name: str, spec: Dimension) -> ColumnElement[Any]:
        node = self.node(path)
        return sql.member(node.model, node.alias, spec.sql, name, _DIMENSION_TYPES[spec.type])

    def shown_dimension(self, d: PlannedDimension) -> ColumnElement[Any]:
        """The dimension as this principal may see it: on a row-masked node, its value on the
        rows within the scope, the mask elsewhere (for selection and client filters alike)."""
        raw = self.raw_dimension(d.path, d.name, d.spec)
        scope = self.plan.row_masks.get(d.path)
        if not d.row_masked or scope is None:
            return raw
        hidden = sa.literal_column(f"'{MASK}'") if d.spec.type == "string" else sa.null()
        shown = filter_sql(scope, self.value_of(_no_measure), self.timezone)
        return sa.case((shown, raw), else_=hidden)

    def _dimension(self, d: PlannedDimension) -> ColumnElement[Any]:
        if d.masked:
            if d.spec.type == "string":
                return sa.literal_column(f"'{MASK}'", sa.String())
            return sa.cast(sa.null(), _DIMENSION_TYPES[d.spec.type])
        raw = self.shown_dimension(d)
        if d.spec.type == "time":
            local = sa.func.timezone(self.timezone, raw)  # wall-clock time in the query's zone
            if d.granularity is None:
                return local
            return sa.func.date_trunc(sa.literal_column(f"'{d.granularity}'"), local)
        if d.spec.type == "number":
            return sa.cast(raw, _value_type(d.spec.data_type))
        return raw

    def aggregate(self, model: ModelSpec, alias: str, spec: Measure) -> ColumnElement[Any]:
        # A row's key columns are never NULL: counting the first counts rows, and gives 0
        # for the NULL row an outer join adds to a group without rows of this model.
        key = sql.member(model, alias, None, model.key_columns[0])
        value = key if spec.sql is None else sql.member(model, alias, spec.sql, "")
        function: Any
        match spec.type:
            case "count":
                function = sa.func.count(value)
            case "count_distinct":
                function = sa.func.count(sa.distinct(value))
            case "sum":
                function = sa.func.sum(value)
            case "avg":
                function = sa.func.avg(value)
            case "min":
                function = sa.func.min(value)
            case "max":
                function = sa.func.max(value)
            case _:
                raise AssertionError(f"not a base measure: {spec.type}")
        if spec.filter is not None:
            function = function.filter(sql.condition(model, alias, spec.filter))
        if spec.type in _COUNTS:
            counted: ColumnElement[Any] = function  # bigint already
            return counted
        if spec.type == "avg":
            return sa.cast(function, sa.Float())
        return sa.cast(function, _value_type(spec.data_type))

    def measure(self, path: Path, name: str, base: Lookup) -> ColumnElement[Any]:
        """A measure's value from the base aggregates; ratios and numbers are formulas."""
        spec = self.node(path).model.measures[name]
        if spec.type in _BASE:
            return base((path, name))
        if spec.type == "ratio":
            assert spec.numerator is not None and spec.denominator is not None
            numerator = sa.cast(self.measure(path, spec.numerator, base), sa.Float())
            denominator = sa.cast(self.measure(path, spec.denominator, base), sa.Float())
            return numerator / sa.func.nullif(denominator, sa.literal_column("0"), type_=sa.Float())
        assert spec.sql is not None
        names = {dep: self.measure(path, dep, base) for dep in spec.dependencies()}
        return sa.cast(sql.snippet(parse(spec.sql), names), _value_type(spec.data_type))

    def base_measures(self) -> list[BaseKey]:
        """The base aggregates that the selected measures and HAVING filters need."""
        found: dict[BaseKey, None] = {}

        def add(path: Path, name: str) -> None:
            spec = self.node(path).model.measures[name]
            if spec.type in _BASE:
                found[(path, name)] = None
            for dep in sorted(spec.dependencies()):
                add(path, dep)

        for m in self.plan.measures:
            add(m.path, m.name)
        for target in _filter_measures(self.plan.having):
            add(target.path, target.name)
        return list(found)

    def value_of(self, base: Lookup) -> Callable[[PlannedDimension | PlannedMeasure], ColumnElement[Any]]:
        def value(target: PlannedDimension | PlannedMeasure) -> ColumnElement[Any]:
            if isinstance(target, PlannedMeasure):
                return self.measure(target.path, target.name, base)
            return self.shown_dimension(target)

        return value

    # --- FROM and WHERE ----------------------------------------------------------

    def from_clause(self) -> sa.FromClause:
        joined: sa.FromClause = self.root_source()
        for path, node in self.plan.nodes.items():
            if node.join is not None:
                joined = joined.outerjoin(sql.source(node.model, node.alias), self.join_on(path, node))
        return joined

    def root_source(self) -> sa.FromClause:
        root = self.node(())
        return sql.source(root.model, root.alias)

    def join_on(self, path: Path, node: Node) -> ColumnElement[bool]:
        """The ON clause joining `node` to its parent."""
        assert node.join is not None
        parent = self.node(path[:-1])
        names: dict[str, sql.Piece] = {
            parent.model.model: sql.AliasName(parent.alias),
            node.model.model: sql.AliasName(node.alias),
        }
        return sql.snippet(parse(node.join.sql), names, sa.Boolean(), grouped=False)

    def where(self) -> list[ColumnElement[bool]]:
        no_measures: Lookup = _no_measure
        clauses = [filter_sql(f, self.value_of(no_measures), self.timezone) for f in self.plan.where]
        for path, segment in self.plan.segments:
            node = self.node(path)
            clauses.append(sql.condition(node.model, node.alias, segment.sql))
        return clauses

    def having(self, base: Lookup) -> list[ColumnElement[bool]]:
        return [filter_sql(f, self.value_of(base), self.timezone) for f in self.plan.having]

    # --- statements --------------------------------------------------------------

    def build(self) -> sa.Select[Any]:
        bases = self.base_measures()
        repeated = [key for key in bases if key[0] in self.plan.multiplied]
        stmt = self._single(bases) if not repeated else self._combined(bases)
        return self._finish(stmt)

    def base_aggregate(self, key: BaseKey) -> ColumnElement[Any]:
        node = self.node(key[0])
        return self.aggregate(node.model, node.alias, self._spec(key))

    def _single(self, bases: list[BaseKey]) -> sa.Select[Any]:
        aggregates = {key: self.base_aggregate(key) for key in bases}
        base = aggregates.__getitem__
        columns = [expr.label(key) for key, expr in self.dimension_sql.items()]
        columns += [self.measure(m.path, m.name, base).label(m.key) for m in self.plan.measures]
        stmt = sa.select(*columns).select_from(self.from_clause()).where(*self.where())
        if self.grouping:
            stmt = stmt.group_by(*self.grouping)
        return stmt.having(*self.having(base))

    def _spec(self, key: BaseKey) -> Measure:
        return self.node(key[0]).model.measures[key[1]]

    def _combined(self, bases: list[BaseKey]) -> sa.Select[Any]:
        """One part per group of aggregates, stacked with UNION ALL and folded per group
        of dimensions: GROUP BY matches NULL dimensions, which a join on them would not."""
        groups: dict[Path | None, list[BaseKey]] = {}
        for key in bases:
            groups.setdefault(key[0] if key[0] in self.plan.multiplied else None, []).append(key)
        parts = []
        for index, (group, keys) in enumerate(sorted(groups.items(), key=_group_order)):
            part = self._direct(keys) if group is None else self._deduplicated(group, keys, index)
            parts.append(part(bases))
        stacked = sa.union_all(*parts).subquery("_parts")
        dimensions = [stacked.c[key] for key in self.dimension_sql]

        def base(key: BaseKey) -> ColumnElement[Any]:
            value = sa.func.max(stacked.c[_label(key)])  # one part holds the value, the others NULL
            return (
                sa.func.coalesce(value, sa.literal_column("0")) if self._spec(key).type in _COUNTS else value
            )

        columns = [column.label(column.name) for column in dimensions]
        columns += [self.measure(m.path, m.name, base).label(m.key) for m in self.plan.measures]
        stmt = sa.select(*columns).select_from(stacked)
        if dimensions:
            stmt = stmt.group_by(*dimensions)
        return stmt.having(*self.having(base))

    def _columns(
        self,
        dimensions: list[ColumnElement[Any]],
        own: dict[BaseKey, ColumnElement[Any]],
        bases: list[BaseKey],
    ) -> list[ColumnElement[Any]]:
        """The part's columns: the dimensions, then every base aggregate (NULL where another
        part computes it), all in one order so that the parts stack."""
        columns: list[ColumnElement[Any]] = [
            expr.label(key) for key, expr in zip(self.dimension_sql, dimensions, strict=True)
        ]
        for key in bases:
            value = own.get(key)
            if value is None:
                value = sa.cast(sa.null(), _base_type(self._spec(key)))
            columns.append(value.label(_label(key)))
        return columns

    def _direct(self, keys: list[BaseKey]) -> Callable[[list[BaseKey]], sa.Select[Any]]:
        def part(bases: list[BaseKey]) -> sa.Select[Any]:
            own = {}
            for key in keys:
                node = self.node(key[0])
                own[key] = self.aggregate(node.model, node.alias, self._spec(key))
            columns = self._columns(list(self.dimension_sql.values()), own, bases)
            stmt = sa.select(*columns).select_from(self.from_clause()).where(*self.where())
            return stmt.group_by(*self.grouping) if self.grouping else stmt

        return part

    def _deduplicated(
        self, path: Path, keys: list[BaseKey], index: int
    ) -> Callable[[list[BaseKey]], sa.Select[Any]]:
        node = self.node(path)
        model = node.model
        labels = [f"_pk{i or ''}" for i in range(len(model.key_columns))]
        pks = [
            sql.member(model, node.alias, None, column).label(label)
            for column, label in zip(model.key_columns, labels, strict=True)
        ]
        distinct = (
            sa.select(*[expr.label(key) for key, expr in self.dimension_sql.items()], *pks)
            .select_from(self.from_clause())
            .where(*self.where())
            .distinct()
            .subquery(f"_keys{index}")
        )
        alias = f"_rows{index}"
        # An outer join: a group in which this model has no rows (`_pk` NULL) is kept, with
        # counts 0 and other aggregates NULL, as a left join from the root would give.
        on = [
            sql.member(model, alias, None, column) == distinct.c[label]
            for column, label in zip(model.key_columns, labels, strict=True)
        ]
        joined = distinct.outerjoin(sql.source(model, alias), sa.and_(*on))
        dimensions: list[ColumnElement[Any]] = [distinct.c[key] for key in self.dimension_sql]

        def part(bases: list[BaseKey]) -> sa.Select[Any]:
            own = {key: self.aggregate(model, alias, self._spec(key)) for key in keys}
            stmt = sa.select(*self._columns(dimensions, own, bases)).select_from(joined)
            return stmt.group_by(*dimensions) if dimensions else stmt

        return part

    def _finish(self, stmt: sa.Select[Any]) -> sa.Select[Any]:
        order: list[ColumnElement[Any]] = []
        for item in self.plan.order:
            column: ColumnElement[Any] = sa.literal_column(DIALECT.identifier_preparer.quote(item.key))
            order.append((column.desc() if item.descending else column.asc()).nulls_last())
        return stmt.order_by(*order).limit(self.plan.limit).offset(self.plan.offset or None)


def _group_order(item: tuple[Path | None, list[BaseKey]]) -> tuple[int, Path]:
    group = item[0]
    return (0, ()) if group is None else (1, group)


def _base_type(spec: Measure) -> sa.types.TypeEngine[Any]:
    if spec.type in _COUNTS:
        return sa.BigInteger()
    return sa.Float() if spec.type == "avg" else _value_type(spec.data_type)


def _no_measure(key: BaseKey) -> ColumnElement[Any]:
    raise AssertionError(f"measure {key} in a WHERE clause")


def _filter_measures(filters: tuple[Any, ...]) -> list[PlannedMeasure]:
    found: list[PlannedMeasure] = []
    for item in filters:
        if hasattr(item, "items"):
            found += _filter_measures(item.items)
        elif isinstance(item.target, PlannedMeasure):
            found.append(item.target)
    return found


def build_select(plan: Plan) -> sa.Select[Any]:
    return Builder(plan).build()


def compile_plan(plan: Plan) -> CompiledQuery:
    return compiled_query(build_select(plan), plan)


def compiled_query(
    stmt: sa.Select[Any], plan: Plan, route: Mapping[str, Any] | None = None, watermark: str | None = None
) -> CompiledQuery:
    """`watermark`: the name of a parameter whose positions are kept (`watermark_at`), so that
    its value can change without compiling again (resolvers/rollups)."""
    compiled = stmt.compile(dialect=DIALECT, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    positions = compiled.positiontup or []
    at = tuple(n for n, name in enumerate(positions) if name == watermark) if watermark else None
    models = tuple(dict.fromkeys(node.model.model for node in plan.nodes.values()))
    values = tuple(params[name] for name in positions)
    return CompiledQuery(compiled.string, values, plan.columns, models, route, at)
