"""What a rollup stores, in the model's own terms (no SQL): the base measures behind the
measures it lists, and the dimension a distinct count counts.

A measure can be rebuilt from a rollup's rows when every base measure it is computed from
is stored: counts and sums add up, minima and maxima fold, an average is a sum over a
count, a ratio or number measure is a formula over other measures. A distinct count adds
up only when the counted column is itself a dimension of the rollup: then the rows still
tell the counted values apart.

A model joined many-to-one can be read through a rollup when every column of the rollup's
model that the join's SQL reads is a stored dimension: each stored row then meets the same
joined row as each of the rows it sums up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from schema.snippets import SELF, Part, Placeholder, member_sql, parse
from schema.spec import Join, Measure, ModelSpec

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


_QUALIFIED = re.compile(r"^\.([A-Za-z_][A-Za-z0-9_]*)")


def qualified_column(after: Part) -> str | None:
    """The column in the text after a table's placeholder (`.course_id = ...`)."""
    match = _QUALIFIED.match(after) if isinstance(after, str) else None
    return match.group(1) if match else None


def stored_column(spec: ModelSpec, column: str, dimensions: Iterable[str]) -> str | None:
    """The dimension among `dimensions` that is `spec`'s column `column` as it is."""
    for name in dimensions:
        dimension = spec.dimensions.get(name)
        if dimension is not None and member_sql(dimension.sql, name) == (Placeholder(SELF), "." + column):
            return name
    return None


def join_keys(spec: ModelSpec, join: Join, dimensions: Iterable[str]) -> dict[str, str] | str:
    """The columns of `spec` that `join` reads, each with the dimension among `dimensions`
    holding it; or why the join cannot be made from those dimensions."""
    if join.model == spec.model:
        return f"the join to {join.model} joins the model to itself"
    parts, held = parse(join.sql), list(dimensions)
    found: dict[str, str] = {}
    for n, part in enumerate(parts):
        if part != Placeholder(spec.model):
            continue
        column = qualified_column(parts[n + 1]) if n + 1 < len(parts) else None
        if column is None:
            return f"the join to {join.model} reads {spec.model} other than by a column"
        dimension = stored_column(spec, column, held)
        if dimension is None:
            return f"the join to {join.model} needs {spec.model}.{column}, which is not stored"
        found[column] = dimension
    return found


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
