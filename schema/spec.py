"""The shape of a model file, as pydantic models.

Shape errors (unknown keys, wrong types, bad enum values) are reported by pydantic;
everything that needs more than one member or more than one file is a rule in
`schema/rules/`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schema.snippets import placeholders

Granularity = Literal["hour", "day", "week", "month", "quarter", "year"]
GRANULARITIES: tuple[Granularity, ...] = ("hour", "day", "week", "month", "quarter", "year")
DimensionType = Literal["string", "number", "boolean", "time"]
MeasureType = Literal["count", "count_distinct", "sum", "avg", "min", "max", "ratio", "number"]
Relationship = Literal["many_to_one", "one_to_many", "one_to_one"]
ValueType = Literal["integer", "float"]
Format = Literal["number", "integer", "percent", "currency", "minutes", "id", "email", "text"]

# snake_case without double underscores: "__" joins path parts in SQL labels.
NAME_PATTERN = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"
_NAME = re.compile(NAME_PATTERN)

# Which keys each measure type accepts besides title/description/format/public.
MEASURE_KEYS: dict[str, frozenset[str]] = {
    "count": frozenset({"sql", "filter"}),
    "count_distinct": frozenset({"sql", "filter"}),
    "sum": frozenset({"sql", "filter", "data_type"}),
    "avg": frozenset({"sql", "filter"}),
    "min": frozenset({"sql", "filter", "data_type"}),
    "max": frozenset({"sql", "filter", "data_type"}),
    "ratio": frozenset({"numerator", "denominator"}),
    "number": frozenset({"sql", "data_type"}),
}
MEASURES_NEEDING_SQL = frozenset({"count_distinct", "sum", "avg", "min", "max", "number"})


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Member(_Spec):
    title: str | None = None
    description: str | None = None
    format: Format | None = None
    # Hidden members are not exposed to clients; access policies can still filter on them.
    public: bool = True


class Dimension(_Member):
    type: DimensionType
    sql: str | None = None  # default: the column named like the dimension
    granularities: tuple[Granularity, ...] | None = None  # time only; default all
    data_type: ValueType | None = None  # number only; default float


class Measure(_Member):
    type: MeasureType
    sql: str | None = None
    filter: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    data_type: ValueType | None = None

    def dependencies(self) -> set[str]:
        """The measures of the same model that a ratio or number measure is computed from."""
        if self.type == "ratio":
            return {name for name in (self.numerator, self.denominator) if name is not None}
        if self.type == "number" and self.sql is not None:
            return placeholders(self.sql)
        return set()

    def given_keys(self) -> set[str]:
        return {
            key
            for key in ("sql", "filter", "numerator", "denominator", "data_type")
            if getattr(self, key) is not None
        }


class Join(_Spec):
    model: str
    relationship: Relationship
    sql: str
    description: str | None = None


class Segment(_Spec):
    sql: str
    title: str | None = None
    description: str | None = None


class Refresh(_Spec):
    """How fresh cached results of a model must be.

    `every`: the data changes on a schedule; a cached result lives at most this many
    seconds. `sql`: a query whose value changes when the data does (e.g. `select
    max(updated_at) from enrollments`), run at most every `check_every` seconds; a new
    value means new cache keys. Without a rule, results live `ttl` seconds.
    `stale_while_revalidate`: for this many seconds after a result stops being fresh, it
    is served (marked stale) while one refresh runs in the background; 0 turns it off, and
    without the key the server's default (`COHORT_CACHE_STALE_S`) applies.
    """

    every: int | None = Field(default=None, ge=1)
    sql: str | None = None
    check_every: int = Field(default=60, ge=1)
    ttl: int = Field(default=3600, ge=1)
    stale_while_revalidate: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_rule(self) -> Refresh:
        if self.every is not None and self.sql is not None:
            raise ValueError("give `every` or `sql`, not both")
        return self


RollupGrain = Literal["15 minutes", "30 minutes", "hour", "day", "week", "month"]
MINUTE_GRAINS: dict[str, int] = {"15 minutes": 15, "30 minutes": 30}


class RollupTime(_Spec):
    """The time dimension a rollup buckets: `grain` in `timezone`. Minute grains are UTC
    only: one serves every zone whose offsets are multiples of it (30 minutes: +05:30)."""

    dimension: str
    grain: RollupGrain
    timezone: str = "UTC"

    @model_validator(mode="after")
    def _minutes_in_utc(self) -> RollupTime:
        if self.grain in MINUTE_GRAINS and self.timezone != "UTC":
            raise ValueError(f"a grain of {self.grain} is bucketed in UTC; leave out `timezone`")
        return self


class Rollup(_Spec):
    """A pre-aggregation of the model, kept by `cohort rollups refresh` (docs/rollups.md).

    `watermark`: a column of the model's rows that grows with every new row (an ingest
    sequence, an identity); refresh merges the rows above the last one it saw.
    `watermark_sql`: the highest committed value (default `max(<watermark>)`), for sources
    whose commits can end out of order, such as `select last_seq from cohort_ingest.state`.
    `rebuild_days`: the recent days recomputed from the raw rows on each refresh.
    """

    dimensions: tuple[str, ...] = ()
    measures: tuple[str, ...] = Field(min_length=1)
    time: RollupTime | None = None
    watermark: str
    watermark_sql: str | None = None
    retention_days: int | None = Field(default=None, ge=1)
    rebuild_days: int = Field(default=2, ge=0)


class ModelSpec(_Spec):
    model: str = Field(pattern=NAME_PATTERN)
    title: str | None = None
    description: str | None = None
    table: str | None = None
    sql: str | None = None
    # One column, or a list for a composite key: rows are told apart by all of them.
    primary_key: str | tuple[str, ...]
    # The count_distinct (or count) measure of distinct learners in a group: access
    # policies suppress groups with fewer learners than a role's minimum.
    learner_count: str | None = None
    refresh: Refresh = Field(default_factory=Refresh)
    joins: dict[str, Join] = Field(default_factory=dict)
    dimensions: dict[str, Dimension] = Field(default_factory=dict)
    measures: dict[str, Measure] = Field(default_factory=dict)
    segments: dict[str, Segment] = Field(default_factory=dict)
    rollups: dict[str, Rollup] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        if (self.table is None) == (self.sql is None):
            raise ValueError("give exactly one of `table` or `sql`")
        keys = self.key_columns
        if not keys or len(set(keys)) != len(keys) or not all(key.strip() for key in keys):
            raise ValueError("primary_key: give a column, or a list of distinct columns")
        return self

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The primary key's columns (one unless the key is composite)."""
        return (self.primary_key,) if isinstance(self.primary_key, str) else self.primary_key

    def member_names(self) -> dict[str, list[str]]:
        """Every named thing in the model, by kind."""
        return {
            "joins": list(self.joins),
            "dimensions": list(self.dimensions),
            "measures": list(self.measures),
            "segments": list(self.segments),
            "rollups": list(self.rollups),
        }


def is_name(text: str) -> bool:
    return _NAME.fullmatch(text) is not None  # `$` alone would allow a final newline
