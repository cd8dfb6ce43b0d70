"""A plan served from a rollup: the query's own SELECT over the rollup's rows, with the
model's measures rebuilt from their stored parts.

The rows it reads are the rollup's, up to its watermark, and the raw rows after that
watermark grouped by the same SELECT that builds the rollup (resolvers/rollups/layout.py):

    select <dimensions>, <measures from parts> from (
        select * from cohort_rollups.<table>
        union all
        <the rollup's SELECT> where <watermark> > (select watermark from cohort_rollups.state ...)
    ) as _rows where <the query's filters> group by ... having ... order by ... limit ...

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

from resolvers.compiler import BaseKey, Builder, CompiledQuery, compiled_query
from resolvers.plan import Plan
from resolvers.rollups.layout import SCHEMA, Layout
from resolvers.rollups.matcher import RollupState
from schema.spec import Dimension

ROWS = "_rows"
WATERMARK = "rollup_watermark"


class RollupBuilder(Builder):
    def __init__(self, plan: Plan, layout: Layout, table: str) -> None:
        self.layout = layout
        self.rows = _rows(layout, table)
        super().__init__(plan)

    def raw_dimension(self, path: tuple[str, ...], name: str, spec: Dimension) -> ColumnElement[Any]:
        column: ColumnElement[Any] = self.rows.c[name]
        return column

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

    def from_clause(self) -> sa.FromClause:
        return self.rows


def _rows(layout: Layout, table: str) -> sa.Subquery:
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
    fresh = layout.select(layout.watermark_column() > watermark, layout.watermark_column() > known)
    return sa.union_all(stored, fresh).subquery(ROWS)


def compile_rollup(plan: Plan, layout: Layout, state: RollupState) -> CompiledQuery:
    stmt = RollupBuilder(plan, layout, state.table).build().params({WATERMARK: state.watermark})
    return with_watermark(compiled_query(stmt, plan, route={}, watermark_at=WATERMARK), layout, state)


def with_watermark(compiled: CompiledQuery, layout: Layout, state: RollupState) -> CompiledQuery:
    """The compiled query with the rollup's latest known watermark and refresh time."""
    at = compiled.watermark_at
    assert at is not None
    params = (*compiled.params[:at], state.watermark, *compiled.params[at + 1 :])
    route = {
        "rollup": layout.key,
        "watermark": state.watermark,
        "refreshedAt": state.refreshed_at.isoformat(),
    }
    return replace(compiled, params=params, route=route)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
