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


def stored_placeholder(dimension: str) -> str:
    """The placeholder `stored_join` puts for a stored dimension ("." is in no model's name)."""
    return "." + dimension


def stored_column(spec: ModelSpec, column: str, dimensions: Iterable[str]) -> str | None:
    """The dimension among `dimensions` that is `spec`'s column `column` as it is."""
    for name in dimensions:
        dimension = spec.dimensions.get(name)
        if dimension is not None and member_sql(dimension.sql, name) == (Placeholder(SELF), "." + column):
            return name
    return None


def stored_join(spec: ModelSpec, join: Join, dimensions: Iterable[str]) -> tuple[Part, ...] | str:
    """`join`'s SQL with each `{spec}.column` it reads replaced by the placeholder of the
    dimension among `dimensions` holding that column (`stored_placeholder`); or why the join
    cannot be made from those dimensions."""
    if join.model == spec.model:
        return f"the join to {join.model} joins the model to itself"
    held = list(dimensions)
    parts: list[Part] = []
    source = parse(join.sql)
    for n, part in enumerate(source):
        if n and source[n - 1] == Placeholder(spec.model):
            continue  # read with the placeholder before it
        if part != Placeholder(spec.model):
            parts.append(part)
            continue
        after = source[n + 1] if n + 1 < len(source) else ""
        after = after if isinstance(after, str) else ""
        match = _QUALIFIED.match(after)
        if match is None:
            return f"the join to {join.model} reads {spec.model} other than by a column"
        dimension = stored_column(spec, match.group(1), held)
        if dimension is None:
            return f"the join to {join.model} needs {spec.model}.{match.group(1)}, which is not stored"
        parts += [Placeholder(stored_placeholder(dimension)), after[match.end() :]]
    return tuple(parts)


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
