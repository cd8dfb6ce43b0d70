"""What a rollup stores, in the model's own terms (no SQL): the base measures behind the
measures it lists, and the dimension a distinct count counts.

A measure can be rebuilt from a rollup's rows when every base measure it is computed from
is stored: counts and sums add up, minima and maxima fold, an average is a sum over a
count, a ratio or number measure is a formula over other measures. A distinct count adds
up only when the counted column is itself a dimension of the rollup: then the rows still
tell the counted values apart.
"""

from __future__ import annotations

from collections.abc import Iterable

from schema.snippets import member_sql
from schema.spec import Measure, ModelSpec

BASE_TYPES = frozenset({"count", "count_distinct", "sum", "avg", "min", "max"})


def base_measures(spec: ModelSpec, names: Iterable[str]) -> list[str]:
    """The base measures the named measures are computed from, each once, in order."""
    found: dict[str, None] = {}

    def add(name: str, seen: tuple[str, ...]) -> None:
        measure = spec.measures.get(name)
        if measure is None or name in seen:
            return
        if measure.type in BASE_TYPES:
            found[name] = None
        for dependency in sorted(measure.dependencies()):
            add(dependency, (*seen, name))

    for name in names:
        add(name, ())
    return list(found)


def counted_dimension(spec: ModelSpec, measure: Measure, dimensions: Iterable[str]) -> str | None:
    """The dimension among `dimensions` whose SQL is the distinct count's counted column."""
    counted = member_sql(measure.sql, "")
    for name in dimensions:
        dimension = spec.dimensions.get(name)
        if dimension is not None and member_sql(dimension.sql, name) == counted:
            return name
    return None


def opaque_numbers(spec: ModelSpec, names: Iterable[str]) -> list[str]:
    """`number` measures among `names` (or behind them) with SQL of their own, which no
    stored part can rebuild."""
    found = []
    for name in names:
        measure = spec.measures.get(name)
        if measure is not None and measure.type == "number" and not measure.dependencies():
            found.append(name)
        elif measure is not None:
            found += opaque_numbers(spec, sorted(measure.dependencies()))
    return found
