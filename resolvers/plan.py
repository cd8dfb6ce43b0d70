"""The plan: a semantic query with every name resolved against the registry.

Frozen data only; `resolvers/planner.py` builds it and `resolvers/compiler.py` turns it
into SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from resolvers.values import Checked
from schema.query import FilterOp
from schema.spec import Dimension, Granularity, Join, Measure, ModelSpec, Segment

Path = tuple[str, ...]  # join names from the query's model; () is the model itself


@dataclass(frozen=True, slots=True)
class Node:
    """A model in the query's join tree, reached from the root through `path`."""

    path: Path
    model: ModelSpec
    alias: str
    join: Join | None  # how the parent joins it; None for the root

    @property
    def parent(self) -> Path:
        return self.path[:-1]


@dataclass(frozen=True, slots=True)
class PlannedDimension:
    key: str
    path: Path
    name: str
    spec: Dimension
    granularity: Granularity | None
    masked: bool = False  # access control hides its values: it comes back as a constant
    # Access control shows its values only on rows within a scope (Plan.row_masks); a
    # client's filter on it sees the masked values too.
    row_masked: bool = False


@dataclass(frozen=True, slots=True)
class PlannedMeasure:
    key: str
    path: Path
    name: str
    spec: Measure


@dataclass(frozen=True, slots=True)
class PlannedCondition:
    target: PlannedDimension | PlannedMeasure
    op: FilterOp
    values: tuple[Checked, ...]


@dataclass(frozen=True, slots=True)
class PlannedGroup:
    kind: Literal["and", "or"]
    items: tuple[PlannedFilter, ...]


PlannedFilter = PlannedCondition | PlannedGroup


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    key: str
    descending: bool


@dataclass(frozen=True, slots=True)
class Plan:
    root: str
    nodes: Mapping[Path, Node]  # parents before children
    dimensions: tuple[PlannedDimension, ...]
    measures: tuple[PlannedMeasure, ...]
    where: tuple[PlannedFilter, ...]  # on dimensions: SQL WHERE
    having: tuple[PlannedFilter, ...]  # on measures: SQL HAVING
    segments: tuple[tuple[Path, Segment], ...]
    order: tuple[PlannedOrder, ...]
    limit: int
    offset: int
    timezone: str
    multiplied: frozenset[Path]  # nodes whose rows the join tree repeats
    # Nodes whose dimensions show only where the scope holds (masked elsewhere).
    row_masks: Mapping[Path, PlannedFilter] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(d.key for d in self.dimensions) + tuple(m.key for m in self.measures)
