"""Building and refreshing rollups (docs/rollups.md), on one asyncpg connection that may
create tables in the warehouse's database.

- **Build** (no table for the current definition): the rollup's SELECT over every row up
  to the source's watermark, into a new table; indexes; then, in one transaction, the state
  points at it and the table it replaces is retired (dropped `RETIRED_GRACE_S` later).
- **Refresh**: in one transaction, under the state row's lock, the rows above the stored
  watermark up to the source's current one are merged (`INSERT ... ON CONFLICT DO UPDATE`,
  parts folded as resolvers/rollups/layout.py says) and the watermark moves. Late rows (an
  old time, a new watermark) land in their old bucket. The last `rebuild_days` of buckets
  are recomputed from the raw rows in the same transaction, which reconciles rows a
  watermark cannot see (a source whose ids commit out of order). Buckets past the
  retention are deleted.

Every value in these statements is computed here (watermarks, instants), never a client's.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from resolvers.compiler import DIALECT
from resolvers.rollups.layout import SCHEMA, Layout, merge

log = logging.getLogger("cohort.rollups")
RETIRED_GRACE_S = 600


@dataclass(frozen=True, slots=True)
class Refreshed:
    key: str
    action: str  # "built", "refreshed", "unchanged", "busy"
    watermark: int
    rows_merged: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Status:
    key: str
    table: str | None = None  # None: not built
    current: bool = False  # built for the current definition
    watermark: int | None = None
    source_watermark: int | None = None
    lag_rows: int | None = None
    refreshed_at: datetime | None = None
    lag_s: float | None = None
    covered_from: datetime | None = None
    rows: int | None = None
    bytes: int | None = None


def _sql(stmt: sa.Select[Any]) -> str:
    return str(stmt.compile(dialect=DIALECT, compile_kwargs={"literal_binds": True}))


def _int(value: int) -> ColumnElement[Any]:
    return sa.literal_column(str(int(value)))


def _instant(moment: datetime) -> ColumnElement[Any]:
    return sa.literal_column(f"timestamptz '{moment.astimezone(UTC).isoformat()}'")


def _lock_key(layout: Layout) -> int:
    return int.from_bytes(hashlib.blake2b(layout.key.encode(), digest_size=8).digest(), "big", signed=True)


async def source_watermark(conn: asyncpg.Connection, layout: Layout) -> int:
    """The highest watermark the source has committed (0 when it has no rows)."""
    spec = layout.spec
    if spec.watermark_sql is not None:
        value = await conn.fetchval(spec.watermark_sql)
    else:
        column = _sql(sa.select(sa.func.max(layout.watermark_column())).select_from(layout.source()))
        value = await conn.fetchval(column)
    return int(value or 0)


async def _bucket_start(conn: asyncpg.Connection, layout: Layout, moment: datetime) -> datetime:
    """The first instant of the bucket holding `moment`."""
    value: datetime = await conn.fetchval(_sql(sa.select(layout.bucket(_instant(moment)))))
    return value


async def _keep_from(conn: asyncpg.Connection, layout: Layout, now: datetime) -> datetime | None:
    days = layout.spec.retention_days
    if days is None or layout.spec.time is None:
        return None
    return await _bucket_start(conn, layout, now - timedelta(days=days))


def _covered(keep_from: datetime | None) -> datetime | None:
    # A day's margin: a server's view of the state is a few seconds old when the oldest
    # buckets go, so it never promises a day being deleted.
    return None if keep_from is None else keep_from + timedelta(days=1)


async def refresh(
    conn: asyncpg.Connection,
    layout: Layout,
    *,
    rebuild: bool = False,
    rebuild_every_s: float = 3_600,
    now: datetime | None = None,
) -> Refreshed:
    """Build the rollup (first time, new definition, or `rebuild`) or merge what is new, and
    recompute the recent days when they were last recomputed `rebuild_every_s` ago."""
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    state = await conn.fetchrow(
        f"select version, table_name, watermark from {SCHEMA}.state where model = $1 and rollup = $2",  # noqa: S608
        layout.model.model,
        layout.name,
    )
    exists = state is not None and await conn.fetchval(
        "select to_regclass($1) is not null", f"{SCHEMA}.{state['table_name']}"
    )
    if rebuild or state is None or state["version"] != layout.version or not exists:
        return await _build(conn, layout, now, started)
    return await _merge(conn, layout, now, started, rebuild_every_s)


async def _build(conn: asyncpg.Connection, layout: Layout, now: datetime, started: float) -> Refreshed:
    lock = _lock_key(layout)
    if not await conn.fetchval("select pg_try_advisory_lock($1)", lock):
        return Refreshed(layout.key, "busy", 0, 0, 0.0)
    try:
        high = await source_watermark(conn, layout)
        keep_from = await _keep_from(conn, layout, now)
        table = await _new_table(conn, layout, now)
        where = [layout.watermark_column() <= _int(high)]
        if keep_from is not None:
            where.append(layout.time_column() >= _instant(keep_from))
        qualified = f"{SCHEMA}.{table}"
        await conn.execute(f"create table {qualified} as {_sql(layout.select(*where))}")
        await _index(conn, layout, table)
        await conn.execute(f"analyze {qualified}")
        rows = int(await conn.fetchval(f"select count(*) from {qualified}"))  # noqa: S608
        first_at = await _first_at(conn, layout, qualified)
        async with conn.transaction():
            old = await conn.fetchval(
                f"select table_name from {SCHEMA}.state where model = $1 and rollup = $2 for update",  # noqa: S608
                layout.model.model,
                layout.name,
            )
            await conn.execute(
                f"""
                insert into {SCHEMA}.state as s (model, rollup, version, table_name, watermark,
                    covered_from, first_at, built_at, refreshed_at, rebuilt_at, rows)
                values ($1, $2, $3, $4, $5, $6, $7, now(), now(), $9, $8)
                on conflict (model, rollup) do update set
                    version = excluded.version, table_name = excluded.table_name,
                    watermark = excluded.watermark, covered_from = excluded.covered_from,
                    first_at = excluded.first_at, built_at = excluded.built_at,
                    refreshed_at = excluded.refreshed_at, rebuilt_at = excluded.rebuilt_at,
                    rows = excluded.rows
                """,  # noqa: S608
                layout.model.model,
                layout.name,
                layout.version,
                table,
                high,
                _covered(keep_from),
                first_at,
                rows,
                now,  # rebuilt_at: on the refresh's clock, which the next one compares it with
            )
            if old is not None and old != table:
                await conn.execute(
                    f"insert into {SCHEMA}.retired (table_name) values ($1) on conflict do nothing",  # noqa: S608
                    old,
                )
    finally:
        await conn.execute("select pg_advisory_unlock($1)", lock)
    seconds = time.perf_counter() - started
    log.info("rollup %s built: %s rows up to watermark %s in %.1f s", layout.key, rows, high, seconds)
    return Refreshed(layout.key, "built", high, rows, seconds)


async def _new_table(conn: asyncpg.Connection, layout: Layout, now: datetime) -> str:
    """A name for the new table, after the build's time: the next second's when a table of
    this version was built in the same one (a rebuild right after a build, the same `now`)."""
    stamp = int(now.timestamp())
    while await conn.fetchval("select to_regclass($1) is not null", f"{SCHEMA}.{layout.table}_{stamp:x}"):
        stamp += 1
    return f"{layout.table}_{stamp:x}"


async def _index(conn: asyncpg.Connection, layout: Layout, table: str) -> None:
    qualified = f"{SCHEMA}.{table}"
    columns = ", ".join(_quote_ident(c) for c in layout.group_columns)
    if columns:
        nulls = " nulls not distinct" if conn.get_server_version().major >= 15 else ""
        await conn.execute(f"create unique index {table}_key on {qualified} ({columns}){nulls}")
    if layout.spec.time is not None:
        time_column = _quote_ident(layout.spec.time.dimension)
        await conn.execute(f"create index {table}_time on {qualified} ({time_column})")


async def _first_at(conn: asyncpg.Connection, layout: Layout, qualified: str) -> datetime | None:
    if layout.spec.time is None:
        return None
    value: datetime | None = await conn.fetchval(
        f"select min({_quote_ident(layout.spec.time.dimension)}) from {qualified}"  # noqa: S608
    )
    return value


async def _merge(
    conn: asyncpg.Connection, layout: Layout, now: datetime, started: float, rebuild_every_s: float
) -> Refreshed:
    async with conn.transaction():
        if not await conn.fetchval("select pg_try_advisory_xact_lock($1)", _lock_key(layout)):
            return Refreshed(layout.key, "busy", 0, 0, 0.0)
        state = await conn.fetchrow(
            f"select table_name, watermark, rebuilt_at from {SCHEMA}.state "  # noqa: S608
            "where model = $1 and rollup = $2 for update",
            layout.model.model,
            layout.name,
        )
        assert state is not None
        qualified = f"{SCHEMA}.{state['table_name']}"
        low, high = int(state["watermark"]), await source_watermark(conn, layout)
        keep_from = await _keep_from(conn, layout, now)
        merged = 0
        new_rows = [layout.watermark_column() > _int(low), layout.watermark_column() <= _int(high)]
        cutoff = None
        # Both on this function's clock (`now`), never the database's: a `now` behind it (a
        # worker's clock, a test's) would otherwise never find the recent days due.
        last = state["rebuilt_at"]
        due = last is None or (now - last).total_seconds() >= rebuild_every_s
        if layout.spec.time is not None and layout.spec.rebuild_days > 0 and due:
            cutoff = await _bucket_start(conn, layout, now - timedelta(days=layout.spec.rebuild_days))
            time_column = _quote_ident(layout.spec.time.dimension)
            await conn.execute(f"delete from {qualified} where {time_column} >= $1", cutoff)  # noqa: S608
            recent = [layout.watermark_column() <= _int(high), layout.time_column() >= _instant(cutoff)]
            merged += _count(await conn.execute(f"insert into {qualified} {_sql(layout.select(*recent))}"))
            new_rows.append(layout.time_column() < _instant(cutoff))
        if keep_from is not None:
            new_rows.append(layout.time_column() >= _instant(keep_from))
        if high > low:
            merged += _count(await conn.execute(_upsert(layout, qualified, layout.select(*new_rows))))
        if keep_from is not None:
            time_column = _quote_ident(layout.spec.time.dimension)  # type: ignore[union-attr]
            await conn.execute(f"delete from {qualified} where {time_column} < $1", keep_from)  # noqa: S608
        first_at = await _first_at(conn, layout, qualified)
        await conn.execute(
            f"""
            update {SCHEMA}.state set watermark = $3, covered_from = $4, first_at = $5,
                refreshed_at = now(), rebuilt_at = case when $6 then $8 else rebuilt_at end,
                rows = greatest((select reltuples::bigint from pg_class where oid = $7::regclass), 0)
            where model = $1 and rollup = $2
            """,  # noqa: S608
            layout.model.model,
            layout.name,
            high,
            _covered(keep_from),
            first_at,
            cutoff is not None,
            qualified,
            now,
        )
    await drop_retired(conn)
    seconds = time.perf_counter() - started
    action = "refreshed" if high > low or cutoff is not None else "unchanged"
    return Refreshed(layout.key, action, high, merged, seconds)


def _upsert(layout: Layout, qualified: str, select: sa.Select[Any]) -> str:
    columns = ", ".join(_quote_ident(c) for c in layout.group_columns)
    updates = ", ".join(f"{part.column} = {merge(part, 'r')}" for part in layout.parts)
    target = f"insert into {qualified} as r {_sql(select)}"
    if not columns:
        return target
    if not updates:
        return f"{target} on conflict ({columns}) do nothing"
    return f"{target} on conflict ({columns}) do update set {updates}"


def _count(status: str) -> int:
    return int(status.split()[-1])


async def retire_undeclared(conn: asyncpg.Connection, declared: list[Layout]) -> list[str]:
    """Forget the rollups no model file declares any more; their tables are retired."""
    keys = [(layout.model.model, layout.name) for layout in declared]
    async with conn.transaction():
        rows = await conn.fetch(
            f"delete from {SCHEMA}.state where (model, rollup) not in "  # noqa: S608
            "(select * from unnest($1::text[], $2::text[])) returning model, rollup, table_name",
            [model for model, _ in keys],
            [name for _, name in keys],
        )
        for row in rows:
            await conn.execute(
                f"insert into {SCHEMA}.retired (table_name) values ($1) on conflict do nothing",  # noqa: S608
                row["table_name"],
            )
    return [f"{row['model']}.{row['rollup']}" for row in rows]


async def drop_retired(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        f"select table_name from {SCHEMA}.retired where retired_at < now() - make_interval(secs => $1)",  # noqa: S608
        RETIRED_GRACE_S,
    )
    dropped = []
    for row in rows:
        await conn.execute(f"drop table if exists {SCHEMA}.{_quote_ident(row['table_name'])}")
        await conn.execute(f"delete from {SCHEMA}.retired where table_name = $1", row["table_name"])  # noqa: S608
        dropped.append(row["table_name"])
    return dropped


async def status(conn: asyncpg.Connection, layouts: list[Layout]) -> list[Status]:
    found = []
    for layout in layouts:
        row = await conn.fetchrow(
            f"select table_name, version, watermark, refreshed_at, covered_from, rows "  # noqa: S608
            f"from {SCHEMA}.state where model = $1 and rollup = $2",
            layout.model.model,
            layout.name,
        )
        high = await source_watermark(conn, layout)
        if row is None:
            found.append(Status(layout.key, source_watermark=high))
            continue
        size = await conn.fetchval(
            "select pg_total_relation_size(to_regclass($1))", f"{SCHEMA}.{row['table_name']}"
        )
        lag_s = (datetime.now(UTC) - row["refreshed_at"]).total_seconds()
        found.append(
            Status(
                layout.key,
                row["table_name"],
                row["version"] == layout.version,
                row["watermark"],
                high,
                max(0, high - row["watermark"]),
                row["refreshed_at"],
                lag_s,
                row["covered_from"],
                row["rows"],
                size,
            )
        )
    return found


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
