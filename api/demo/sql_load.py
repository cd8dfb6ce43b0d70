"""Loading the learners and facts that PostgreSQL generates (scales with `generator="postgres"`).

A generator connection builds the plan (`api/demo/sql_plan.py`), then every table comes
chunk by chunk: the generator runs the table's query (`api/demo/sql_rows.py`) for a range
of learners or enrollments and the loading transaction takes the rows with COPY FREEZE
(`api/demo/copy_pipe.py`). A chunk is a step of the progress bar.
"""

from __future__ import annotations

from typing import Any, Final

from api.demo.catalog import Catalog
from api.demo.copy_pipe import check_columns, pipe
from api.demo.progress import SeedProgress
from api.demo.scales import Scale
from api.demo.sql_plan import PLAN_STEPS, Plan, build_plan
from api.demo.sql_rows import QUERIES
from api.demo.tables import COLUMNS

CHUNK_ENROLLMENTS: Final = 125_000  # ~1M progress events a chunk
GENERATED_TABLES: Final = tuple(QUERIES)
PLANNING: Final = "plan (in PostgreSQL)"


async def load_generated(
    target: Any,
    generator: Any,
    scale: Scale,
    seed: int,
    catalog: Catalog,
    progress: SeedProgress,
    chunk_enrollments: int = CHUNK_ENROLLMENTS,
) -> dict[str, int]:
    """Loads the tables of `QUERIES` into `target` (in the transaction that truncated them)
    from `generator` (an asyncpg connection of its own, to close afterwards: it keeps the
    plan in temporary tables). Returns the rows per table."""
    if chunk_enrollments < 1:
        raise ValueError("chunk_enrollments must be positive")
    progress.expect(PLANNING, PLAN_STEPS)
    plan = await build_plan(
        generator, scale, seed, catalog, chunk_enrollments, lambda: progress.advance(PLANNING, 1)
    )
    progress.expect("learners", plan.learners)
    progress.expect("enrollments", plan.enrollments)
    progress.expect("progress_events", plan.events)
    counts: dict[str, int] = {}
    for table, (query, numbered) in QUERIES.items():
        await check_columns(generator, query, target, table, COLUMNS[table])
        counts[table] = 0
        for first, last, events_before in _ranges(table, plan, chunk_enrollments):
            arguments: tuple[int, ...] = (first, last)
            if numbered:
                arguments += (counts[table] if events_before is None else events_before,)
            rows = await pipe(generator, query, arguments, target, table, COLUMNS[table])
            counts[table] += rows
            progress.advance(table, rows)
    assert counts["enrollments"] == plan.enrollments and counts["progress_events"] == plan.events, counts
    return counts


def _ranges(table: str, plan: Plan, chunk_enrollments: int) -> list[tuple[int, int, int | None]]:
    """(first id, last id, progress events before) of each chunk of `table`."""
    if table == "learners":
        size = chunk_enrollments * 2  # learners have a few enrollments each
        firsts = range(1, plan.learners + 1, size)
        return [(first, min(first + size - 1, plan.learners), None) for first in firsts]
    events = table == "progress_events"
    return [(chunk.first, chunk.last, chunk.events_before if events else None) for chunk in plan.chunks]
