"""A plan served from a rollup: the query's own SELECT over the rollup's rows, with the
model's measures rebuilt from their stored parts.

The rows it reads are the rollup's, up to its watermark, and the raw rows after that
watermark grouped by the same SELECT that builds the rollup (resolvers/rollups/layout.py):

    select <dimensions>, <measures from parts> from (
        select * from cohort_rollups.<table>
        union all
        <the rollup's SELECT> where <watermark> > (select watermark from cohort_rollups.state ...)
    ) as _rows where <the query's filters> group by ... having ... order by ... limit ...

Joined models (many-to-one, on stored dimensions: resolvers/rollups/matcher.py) are joined
to `_rows` as they are to the raw rows, their join SQL reading the stored columns.

One statement, one snapshot: a refresh commits the rollup's new rows and its new watermark
together, so each row is read exactly once, before or after. PostgreSQL pushes the query's
filters into both branches, so the raw rows read are those after the watermark within the
query's own time range and row filters (no unbounded tail).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from resolvers import sql
from resolvers.compiler import BaseKey, Builder, CompiledQuery, Lookup, compiled_query
from resolvers.filters import filter_sql
from resolvers.plan import Node, Path, Plan, PlannedCondition
from resolvers.rollups.layout import SCHEMA, Layout
from resolvers.rollups.matcher import RollupState, bounded, valued
from schema.rollups import stored_join, stored_placeholder
from schema.spec import Dimension

ROWS = "_rows"
WATERMARK = "rollup_watermark"


class RollupBuilder(Builder):
    def __init__(
        self,
        plan: Plan,
        layout: Layout,
        table: str,
        checker: tuple[Layout, str] | None = None,
        alias: str = ROWS,
    ) -> None:
        """`checker`: a rollup (and its table) that counts learners exactly, for the groups the
        bounds leave undecided; without one they are counted on the raw rows."""
        self.layout = layout
        self.checker = checker
        self.rows = _rows(layout, table, alias)
        self.valued = valued(plan, layout)
        super().__init__(plan)

    def raw_dimension(self, path: Path, name: str, spec: Dimension) -> ColumnElement[Any]:
        if path:
            return super().raw_dimension(path, name, spec)
        column: ColumnElement[Any] = self.rows.c[name]
        return column

    def root_source(self) -> sa.FromClause:
        return self.rows

    def join_on(self, path: Path, node: Node) -> ColumnElement[bool]:
        """A join from the model reads the stored dimension for each column it names."""
        if len(path) > 1:
            return super().join_on(path, node)
        assert node.join is not None
        parts = stored_join(self.layout.model, node.join, self.layout.spec.dimensions)
        assert not isinstance(parts, str), parts  # the matcher made sure
        names: dict[str, sql.Piece] = {node.model.model: sql.AliasName(node.alias)}
        names |= {stored_placeholder(d): self.rows.c[d] for d in self.layout.spec.dimensions}
        return sql.snippet(parts, names, sa.Boolean(), grouped=False)

    def base_aggregate(self, key: BaseKey) -> ColumnElement[Any]:
        name = key[1]
        layout, rows = self.layout, self.rows.c
        spec = layout.model.measures[name]
        function: ColumnElement[Any]
        match spec.type:
            case "count":
                # 0 over no rows at all, as count() gives (a query without dimensions), not NULL.
                total = sa.func.sum(rows[layout.part(name, "count")])
                return sa.cast(sa.func.coalesce(total, sa.literal_column("0")), sa.BigInteger())
            case "sum" | "min" | "max":
                fold = sa.func.sum if spec.type == "sum" else getattr(sa.func, spec.type)
                function = fold(rows[layout.part(name, spec.type)])
                return self._typed(function, spec.data_type)
            case "avg":
                total = sa.func.sum(rows[layout.part(name, "avg_sum")])
                count = sa.func.sum(rows[layout.part(name, "avg_n")])
                # As avg() does: numeric division for integer values, float8 for floats.
                return sa.cast(total / sa.func.nullif(count, sa.literal_column("0")), sa.Float())
            case "count_distinct" if name in self.valued:
                return sa.func.max(rows[layout.part(name, "lo")])  # the group's one row: see build()
            case "count_distinct":
                counted = rows[dict(layout.counted)[name]]
                function = sa.func.count(sa.distinct(counted))
                if spec.filter is not None:
                    function = function.filter(rows[layout.part(name, "rows")] > sa.literal_column("0"))
                return function
        raise AssertionError(f"not a base measure: {spec.type}")

    @staticmethod
    def _typed(function: ColumnElement[Any], data_type: str | None) -> ColumnElement[Any]:
        return sa.cast(function, sa.BigInteger() if data_type == "integer" else sa.Float())

    def base_measures(self) -> list[BaseKey]:
        keep = tuple(item for item in self.plan.having if not bounded(item, self.layout))
        return Builder(replace(self.plan, having=keep)).base_measures()

    def having(self, base: Lookup) -> list[ColumnElement[bool]]:
        kept = [item for item in self.plan.having if not bounded(item, self.layout)]
        return [filter_sql(item, self.value_of(base), self.timezone) for item in kept]

    def build(self) -> sa.Select[Any]:
        """With bounds (suppression, or distinct counts kept per row), the groups are made
        first; then each is kept, and each count taken, where the bounds decide, or counted
        exactly where they do not; then order and limit (suppression comes before them, as
        on the raw tables)."""
        suppressions = [
            item
            for item in self.plan.having
            if isinstance(item, PlannedCondition) and bounded(item, self.layout)
        ]
        if not suppressions and not self.valued:
            return super().build()
        rows = self.rows.c
        grouped = self._single(self.base_measures())
        for n, item in enumerate(suppressions):
            name = item.target.name
            grouped = grouped.add_columns(
                sa.func.max(rows[self.layout.part(name, "lo")]).label(f"_lo{n}"),
                sa.func.sum(rows[self.layout.part(name, "hi")]).label(f"_hi{n}"),
            )
        counts = [m for m in self.plan.measures if m.name in self.valued]
        for m in counts:
            grouped = grouped.add_columns(
                sa.func.sum(rows[self.layout.part(m.name, "hi")]).label(f"_hi_{m.key}")
            )
        groups = grouped.subquery("_groups")
        kept = [self._suppressed(item, groups, n) for n, item in enumerate(suppressions)]
        columns: list[ColumnElement[Any]] = []
        for key in self.plan.columns:
            column: ColumnElement[Any] = groups.c[key]
            measure = next((m for m in counts if m.key == key), None)
            if measure is not None:
                exact = self._exact(measure.name, groups)
                column = sa.case((column == groups.c[f"_hi_{key}"], column), else_=exact).label(key)
            columns.append(column)
        return self._finish(sa.select(*columns).where(*kept))

    def _suppressed(self, condition: PlannedCondition, groups: sa.Subquery, n: int) -> ColumnElement[bool]:
        """`learners >= k`: yes when one row alone has k, no when all rows together have
        fewer; otherwise the group's learners are counted on the raw rows."""
        least = sa.literal(condition.values[0], sa.BigInteger())
        exact = self._exact(condition.target.name, groups) >= least
        return sa.case(
            (groups.c[f"_lo{n}"] >= least, sa.true()), (groups.c[f"_hi{n}"] < least, sa.false()), else_=exact
        )

    def _exact(self, name: str, groups: sa.Subquery) -> ColumnElement[Any]:
        """The group's learners counted exactly: the query's filters, each grouped dimension
        equal to the group's (NULL to NULL) and, so that an index finds the rows, the time
        range of the group's bucket."""
        source: Builder
        if self.checker is not None:
            source = RollupBuilder(self.plan, self.checker[0], self.checker[1], alias="_check")
            counted = source.base_aggregate(((), name))
        else:
            source = Builder(self.plan)
            root = source.node(())
            counted = source.aggregate(root.model, root.alias, root.model.measures[name])
        same: list[ColumnElement[bool]] = []
        for d in self.plan.dimensions:
            if d.masked:
                continue
            value = groups.c[d.key]
            if d.spec.type != "time":
                # The stored column, not its cast, and `=` rather than IS NOT DISTINCT FROM:
                # both keep an index usable; the cast compares the same either way.
                column = source.raw_dimension(d.path, d.name, d.spec)
                same.append(sa.or_(column == value, sa.and_(column.is_(None), value.is_(None))))
                continue
            same.append(source.dimension_sql[d.key].is_not_distinct_from(value))
            if d.granularity is not None:
                instant = source.raw_dimension(d.path, d.name, d.spec)
                start = groups.c[d.key]
                end = start + sa.literal_column(f"interval '{_STEP[d.granularity]}'")
                same += [
                    instant >= sa.func.timezone(self.timezone, start),
                    instant < sa.func.timezone(self.timezone, end),
                ]
        query = sa.select(counted).select_from(source.from_clause()).where(*source.where(), *same)
        return query.scalar_subquery()


_STEP = {
    "hour": "1 hour",
    "day": "1 day",
    "week": "7 days",
    "month": "1 month",
    "quarter": "3 months",
    "year": "1 year",
}


def _rows(layout: Layout, table: str, alias: str = ROWS) -> sa.Subquery:
    names = (*layout.group_columns, *(part.column for part in layout.parts))
    columns: list[ColumnElement[Any]] = [sa.column(name) for name in names]
    stored = sa.select(*columns).select_from(sa.table(table, schema=SCHEMA))
    state = sa.table("state", sa.column("model"), sa.column("rollup"), sa.column("watermark"), schema=SCHEMA)
    watermark = (
        sa.select(state.c.watermark)
        .where(
            state.c.model == sa.literal_column(_quote(layout.model.model)),
            state.c.rollup == sa.literal_column(_quote(layout.name)),
        )
        .scalar_subquery()
    )
    # The state's watermark makes the answer exact; the one the server last read (never
    # above it: watermarks only grow) tells the planner how few raw rows are past it, which
    # a subquery's value cannot.
    known = sa.bindparam(WATERMARK, type_=sa.BigInteger())
    past = [layout.watermark_column() > watermark, layout.watermark_column() > known]
    return sa.union_all(stored, layout.select(*past)).subquery(alias)


def compile_rollup(
    plan: Plan, layout: Layout, state: RollupState, checker: tuple[Layout, RollupState] | None = None
) -> CompiledQuery:
    exact = (checker[0], checker[1].table) if checker is not None else None
    stmt = RollupBuilder(plan, layout, state.table, exact).build().params({WATERMARK: 0})
    compiled = compiled_query(stmt, plan, watermark=WATERMARK)
    states = [state] if checker is None else [state, checker[1]]
    return with_watermark(compiled, layout, states)


def with_watermark(compiled: CompiledQuery, layout: Layout, states: list[RollupState]) -> CompiledQuery:
    """The compiled query with the latest watermarks known: the lowest of the rollups it
    reads is a bound below each one's (watermarks only grow)."""
    known = min(state.watermark for state in states)
    params = list(compiled.params)
    for at in compiled.watermark_at or ():
        params[at] = known
    main = states[0]
    route: dict[str, Any] = {
        "rollup": layout.key,
        "watermark": main.watermark,
        "refreshedAt": main.refreshed_at.isoformat(),
    }
    if len(states) > 1:
        route["exactCountsFrom"] = states[1].key
    return replace(compiled, params=tuple(params), route=route)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
