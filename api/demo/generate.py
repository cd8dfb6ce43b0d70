"""Deterministic rows for the demo warehouse.

`generate(scale, seed)` yields `(table, rows)` batches in an order that satisfies the
foreign keys; every row is a tuple in the column order of `COLUMNS[table]`. Nothing
here does I/O. The same (scale, seed) gives the same rows on every run and machine:

* each table draws from its own `random.Random`, seeded from SHA-256 of (seed, table);
* random floats only meet +, -, *, / and sqrt, which IEEE 754 rounds exactly, so no
  platform's libm (log, exp, pow, cos) can move a digit;
* times are whole seconds as aware UTC datetimes; numerics are `Decimal`.

Learners, enrollments and the facts that hang off enrollments are streamed in chunks,
so the "large" scale never holds its millions of rows in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from api.demo.catalog import SKILLS, build_catalog
from api.demo.facts import fact_batches
from api.demo.learners import build_learners, learner_rows
from api.demo.scales import Scale
from api.demo.tables import COLUMNS, FACT_TABLES, TABLES, Batch, Row
from api.demo.values import progress_percent

__all__ = [
    "COLUMNS",
    "FACT_TABLES",
    "TABLES",
    "Batch",
    "Row",
    "generate",
    "planned_rows",
    "progress_percent",
]


def _chunks(table: str, rows: Iterator[Row], size: int) -> Iterator[Batch]:
    while chunk := list(islice(rows, size)):
        yield table, chunk


def generate(scale: Scale, seed: int, chunk_size: int = 50_000) -> Iterator[Batch]:
    """Every row of the demo warehouse as `(table, rows)` batches, parents before children.

    A table may come in several batches; its rows, in order, do not depend on
    `chunk_size`, only on (scale, seed).
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    catalog = build_catalog(scale, seed)
    for table in TABLES[: TABLES.index("learners")]:
        yield table, catalog.rows[table]
    learners = build_learners(scale, seed, catalog.enterprises)
    yield from _chunks("learners", learner_rows(seed, learners), chunk_size)
    yield from fact_batches(scale, seed, catalog, learners, chunk_size)


def planned_rows(scale: Scale) -> dict[str, int]:
    """Row counts known from the scale alone (the others follow from random outcomes)."""
    planned = {
        "organizations": scale.universities + scale.enterprises,
        "instructors": scale.universities * scale.instructors_per_university,
        "courses": scale.courses,
        "skills": len(SKILLS),
        "learners": scale.learners,
        "enrollments": scale.enrollments,
    }
    if scale.generator == "postgres":
        del planned["enrollments"]  # drawn learner by learner: about scale.enrollments
    return planned
