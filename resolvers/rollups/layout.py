"""A rollup's table: its name and version, its columns, and the SELECT that fills it.

One row per group of the rollup's dimensions and time bucket. The columns are the
dimensions (named like them, holding the model's own SQL for them), the bucket (named like
the time dimension: the bucket's first instant), and the parts of the base measures:

| measure | parts | merged with newer rows by |
|---|---|---|
| count | `m_<name>`: count | adding |
| sum | `m_<name>`: sum | adding (NULL when both are) |
| min, max | `m_<name>` | least, greatest |
| avg | `m_<name>__sum`, `m_<name>__n`: sum and count of the values | adding |
| count_distinct, its column a dimension | none; filtered: `m_<name>__rows`, rows matching | adding |
| other count_distinct, `learner_count` | `m_<name>__lo`, `__hi`: row distinct count | greatest, adding |

A group counts at least as many distinct values as its largest row and at most the sum of
its rows'; a merge keeps both true. The bounds decide small-group suppression, and give a
distinct count itself where they meet (a group of one unmerged row: a query grouped like
the rollup); the groups they leave undecided are counted exactly
(resolvers/rollups/compiler.py).

The same SELECT builds the table, merges new rows into it, rebuilds recent days, and reads
the raw rows after the watermark when a query is served: what is stored and what is read
fresh can never be computed two ways.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from resolvers import sql
from schema.rollups import base_measures, counted_dimension
from schema.spec import MINUTE_GRAINS, Measure, ModelSpec, Rollup

SCHEMA = "cohort_rollups"
LAYOUT = 1  # bumped when this module stores rollups differently: every table is rebuilt
RAW = "_raw"  # the alias of the model's rows in the SELECT
_EPOCH = "2000-01-01 00:00:00+00"  # date_bin's origin: a Monday at midnight UTC

Role = Literal["count", "sum", "min", "max", "avg_sum", "avg_n", "rows", "lo", "hi"]


@dataclass(frozen=True, slots=True)
class Part:
    column: str
    measure: str
    role: Role


@dataclass(frozen=True, slots=True)
class Layout:
    model: ModelSpec
    name: str  # the rollup's name in the model file
    spec: Rollup
    version: str
    table: str  # in SCHEMA
    parts: tuple[Part, ...]
    # Distinct counts: the measure -> the dimension column holding what it counts.
    counted: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        return f"{self.model.model}.{self.name}"

    @property
    def group_columns(self) -> tuple[str, ...]:
        time = (self.spec.time.dimension,) if self.spec.time is not None else ()
        return (*self.spec.dimensions, *time)

    @property
    def stored_measures(self) -> frozenset[str]:
        """The measures rebuilt exactly (not those kept as bounds only)."""
        exact = {part.measure for part in self.parts if part.role not in ("lo", "hi")}
        return frozenset(exact) | {name for name, _ in self.counted}

    @property
    def bounded(self) -> frozenset[str]:
        """The distinct counts kept as per-row bounds."""
        return frozenset(part.measure for part in self.parts if part.role == "lo")

    def part(self, measure: str, role: Role) -> str:
        for part in self.parts:
            if part.measure == measure and part.role == role:
                return part.column
        raise KeyError((measure, role))

    def bucket(self, instant: ColumnElement[Any]) -> ColumnElement[Any]:
        """The first instant of the bucket holding `instant`."""
        time = self.spec.time
        assert time is not None
        if time.grain in MINUTE_GRAINS:
            step: ColumnElement[Any] = sa.literal_column(f"interval '{MINUTE_GRAINS[time.grain]} minutes'")
            return sa.func.date_bin(step, instant, sa.literal_column(f"timestamptz '{_EPOCH}'"))
        zone: ColumnElement[Any] = sa.literal_column(_quote(time.timezone))
        local = sa.func.date_trunc(sa.literal_column(f"'{time.grain}'"), sa.func.timezone(zone, instant))
        return sa.func.timezone(zone, local)

    def time_column(self) -> ColumnElement[Any]:
        """The time dimension's SQL on the raw rows."""
        time = self.spec.time
        assert time is not None
        dimension = self.model.dimensions[time.dimension]
        return sql.member(self.model, RAW, dimension.sql, time.dimension, sa.DateTime(timezone=True))

    def source(self) -> sa.FromClause:
        """The model's rows, aliased RAW."""
        return sql.source(self.model, RAW)

    def watermark_column(self) -> ColumnElement[Any]:
        return sql.member(self.model, RAW, None, self.spec.watermark, sa.BigInteger())

    def select(self, *where: ColumnElement[bool]) -> sa.Select[Any]:
        """The rollup's rows computed from the model's rows under `where` (on RAW)."""
        model = self.model
        columns: list[ColumnElement[Any]] = []
        for name in self.spec.dimensions:
            dimension = model.dimensions[name]
            columns.append(sql.member(model, RAW, dimension.sql, name).label(name))
        if self.spec.time is not None:
            columns.append(self.bucket(self.time_column()).label(self.spec.time.dimension))
        groups = list(range(1, len(columns) + 1))
        for part in self.parts:
            columns.append(self._aggregate(part).label(part.column))
        stmt = sa.select(*columns).select_from(self.source()).where(*where)
        return stmt.group_by(*(sa.literal_column(str(n)) for n in groups)) if groups else stmt

    def _aggregate(self, part: Part) -> ColumnElement[Any]:
        model = self.model
        measure = model.measures[part.measure]
        key = sql.member(model, RAW, None, model.key_columns[0])
        value = key if measure.sql is None else sql.member(model, RAW, measure.sql, "")
        function: Any
        match part.role:
            case "count":
                function = sa.func.count(value)
            case "sum" | "avg_sum":
                function = sa.func.sum(value)
            case "avg_n":
                function = sa.func.count(value)
            case "min":
                function = sa.func.min(value)
            case "max":
                function = sa.func.max(value)
            case "rows":
                function = sa.func.count(value)  # non-NULL counted values: those count(distinct) sees
            case "lo" | "hi":
                function = sa.func.count(sa.distinct(value))
        if measure.filter is not None:
            function = function.filter(sql.condition(model, RAW, measure.filter))
        return function  # type: ignore[no-any-return]


def merge(part: Part, table: str) -> str:
    """How an ON CONFLICT update folds the new rows' part into the stored one."""
    old, new = f"{table}.{part.column}", f"excluded.{part.column}"
    match part.role:
        case "count" | "avg_n" | "rows" | "hi":
            return f"{old} + {new}"
        case "lo":
            return f"greatest({old}, {new})"
        case "sum" | "avg_sum":
            return f"coalesce({old} + {new}, {old}, {new})"
        case "min":
            return f"least({old}, {new})"
        case "max":
            return f"greatest({old}, {new})"


def _parts(model: ModelSpec, rollup: Rollup) -> tuple[tuple[Part, ...], tuple[tuple[str, str], ...]]:
    parts: list[Part] = []
    counted: list[tuple[str, str]] = []
    for name in base_measures(model, rollup.measures):
        measure: Measure = model.measures[name]
        match measure.type:
            case "count" | "sum" | "min" | "max":
                parts.append(Part(f"m_{name}", name, measure.type))
            case "avg":
                parts += [Part(f"m_{name}__sum", name, "avg_sum"), Part(f"m_{name}__n", name, "avg_n")]
            case "count_distinct":
                dimension = counted_dimension(model, measure, rollup.dimensions)
                if dimension is None:
                    parts += _bounds(name)
                    continue
                counted.append((name, dimension))
                if measure.filter is not None:
                    parts.append(Part(f"m_{name}__rows", name, "rows"))
    learners = model.learner_count
    counter = model.measures.get(learners) if learners is not None else None
    if (
        learners is not None
        and counter is not None
        and counter.type == "count_distinct"
        and counted_dimension(model, counter, rollup.dimensions) is None
        and all(part.measure != learners for part in parts)
    ):
        parts += _bounds(learners)
    return tuple(parts), tuple(counted)


def layout(model: ModelSpec, name: str) -> Layout:
    rollup = model.rollups[name]
    parts, counted = _parts(model, rollup)
    members = {
        "layout": LAYOUT,
        "source": model.table or model.sql,
        "key": model.key_columns,
        "rollup": rollup.model_dump(mode="json", exclude={"rebuild_days"}),
        "dimensions": {d: model.dimensions[d].model_dump(mode="json") for d in _grouped(rollup)},
        "measures": {p.measure: model.measures[p.measure].model_dump(mode="json") for p in parts},
        "counted": counted,
    }
    digest = hashlib.sha256(orjson.dumps(members, option=orjson.OPT_SORT_KEYS)).hexdigest()
    version = digest[:12]
    # 47 characters at most: a build adds its own suffix, indexes theirs, under PostgreSQL's 63.
    table = f"{model.model}__{name}"[:36] + f"_{version[:10]}"
    return Layout(model, name, rollup, version, table, parts, counted)


def layouts(models: dict[str, ModelSpec] | Any) -> list[Layout]:
    """Every rollup of every model."""
    return [layout(spec, name) for spec in models.values() for name in spec.rollups]


def _bounds(measure: str) -> list[Part]:
    return [Part(f"m_{measure}__lo", measure, "lo"), Part(f"m_{measure}__hi", measure, "hi")]


def _grouped(rollup: Rollup) -> list[str]:
    return [*rollup.dimensions, *([rollup.time.dimension] if rollup.time is not None else [])]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
