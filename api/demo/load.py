"""Load the demo warehouse into PostgreSQL with COPY, replacing what was there."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.demo.ddl import ensure_demo_tables
from api.demo.generate import COLUMNS, TABLES, generate, planned_rows
from api.demo.scales import Scale, get_scale

CHUNK_ROWS: Final = 50_000

_FINISHING: Final = "indexes and statistics"
_TRUNCATE: Final = f"truncate {', '.join(TABLES)} restart identity cascade"
_ANALYZE: Final = f"analyze {', '.join(TABLES)}"

# (drop, create) statements for the secondary indexes and foreign keys of the warehouse
# tables. Building them once after COPY is several times faster than maintaining them
# row by row; re-adding a foreign key still checks every row.
_SECONDARY_STRUCTURES: Final = """
select format('drop index %s', i.indexrelid::regclass) as drop_sql,
       pg_get_indexdef(i.indexrelid) as create_sql,
       1 as phase
from pg_index i
where i.indrelid = any($1::text[]::regclass[])
  and not exists (select from pg_constraint c where c.conindid = i.indexrelid)
union all
select format('alter table %s drop constraint %I', c.conrelid::regclass, c.conname),
       format('alter table %s add constraint %I %s',
              c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)),
       2
from pg_constraint c
where c.contype = 'f' and c.conrelid = any($1::text[]::regclass[])
order by phase, create_sql
"""

Advance = Callable[[str, int], None]


async def seed_demo(
    engine: AsyncEngine, scale: str = "default", seed: int = 42, progress: bool = False
) -> dict[str, int]:
    """Replace the rows of the demo warehouse's tables with the demo data of (scale, seed),
    creating the tables in an empty database first (`api/demo/ddl.py`); a database whose
    tables of those names are not the demo's is refused (NotTheDemoError).

    One transaction: readers see either the old rows or all the new ones. Secondary
    indexes and foreign keys are dropped for the COPY and re-created (and re-checked)
    before the commit. Returns the rows loaded per table. An unknown scale raises
    ValueError before anything changes.
    """
    spec = get_scale(scale)
    with _progress_bar(progress, planned_rows(spec)) as advance:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection  # an asyncpg.Connection
            async with driver.transaction():
                return await _reload(driver, spec, seed, advance)


async def is_seeded(engine: AsyncEngine) -> bool:
    """Whether the warehouse holds any data (any organization)."""
    async with engine.connect() as conn:
        if await conn.scalar(text("select to_regclass('organizations')")) is None:
            return False
        found = await conn.scalar(text("select exists (select from organizations)"))
    return bool(found)


async def _reload(driver: Any, spec: Scale, seed: int, advance: Advance) -> dict[str, int]:
    # Index builds at the large scale outlast the app's statement timeout.
    await driver.execute("set local statement_timeout = 0")
    await ensure_demo_tables(driver, TABLES)
    structures = await driver.fetch(_SECONDARY_STRUCTURES, list(TABLES))
    await driver.execute(_TRUNCATE)
    for structure in structures:
        await driver.execute(structure["drop_sql"])
    counts = dict.fromkeys(TABLES, 0)
    for table, rows in generate(spec, seed, CHUNK_ROWS):
        await driver.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
        counts[table] += len(rows)
        advance(table, len(rows))
    for structure in structures:
        await driver.execute(structure["create_sql"])
        advance(_FINISHING, 1)
    await driver.execute(_ANALYZE)
    advance(_FINISHING, 1)
    return counts


@contextmanager
def _progress_bar(enabled: bool, planned: Mapping[str, int]) -> Iterator[Advance]:
    """An `advance(table, rows)` callback; draws a bar per table on stderr when enabled."""
    if not enabled:
        yield lambda table, rows: None
        return
    columns = (
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        # Tables whose size is not known up front pulse until they are done.
        tasks = {name: bar.add_task(name, total=planned.get(name)) for name in (*TABLES, _FINISHING)}
        yield lambda table, rows: bar.advance(tasks[table], rows)
        for task in bar.tasks:
            bar.update(task.id, total=task.completed)
