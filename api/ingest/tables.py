"""Where ingested events live: the `cohort_ingest` schema of the ingest database.

- `events`: the raw events, partitioned by day of `occurred_at` (UTC), one partition a day
  from the retention's first day to a few days ahead; `ingest_seq` numbers events in commit
  order (the watermark of later readers).
- `event_ids`: one row per (tenant, event id) ever accepted within the retention, the
  uniqueness the partitioned table cannot hold (its unique indexes must include the
  partition key). Keyed by a 16-byte BLAKE2b digest of the pair (`event_key`): compared
  bytewise, a third of the size of the texts; two different pairs share a digest with a
  probability of about 10^-18 at 60 billion events.
- `batches`: one row per (tenant, Idempotency-Key) with the answer sent, written in the
  same transaction as the batch's events.
- `failed_events`: rejected events with the reason and the raw payload.
- `state`: one row; `last_seq` is the highest committed `ingest_seq`. Every ingest
  transaction locks it first, so commits are serialized and sequence numbers are committed
  in order: every event at or below `last_seq` is visible once `last_seq` is.

`setup` creates all of it (idempotent); `maintain` makes partitions ahead and drops those
past the retention, with the bookkeeping rows of the same age.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import asyncpg

log = logging.getLogger("cohort.ingest")

SCHEMA = "cohort_ingest"
LAYOUT = 1
_PARTITION = re.compile(r"events_(\d{8})")
_MAINTENANCE_LOCK = 0x636F686F7274  # pg_try_advisory_lock key: one maintenance at a time
_DELETE_CHUNK = 50_000

_SETUP = [
    f"create schema if not exists {SCHEMA}",
    f"""
    create table if not exists {SCHEMA}.state (
        id            boolean primary key default true check (id),
        layout        integer not null,
        last_seq      bigint not null default 0,
        committed_at  timestamptz
    )
    """,
    f"insert into {SCHEMA}.state (layout) values ({LAYOUT}) on conflict (id) do nothing",  # noqa: S608
    f"""
    create table if not exists {SCHEMA}.events (
        tenant       text collate "C" not null,
        ingest_seq   bigint not null,
        event_id     text not null,
        event_type   text not null,
        occurred_at  timestamptz not null,
        received_at  timestamptz not null default now(),
        data         jsonb not null
    ) partition by range (occurred_at)
    """,
    # Rows arrive in ingest_seq order: a BRIN index finds those above a watermark for almost
    # nothing per insert.
    f"create index if not exists events_ingest_seq on {SCHEMA}.events using brin (ingest_seq)",
    f"create index if not exists events_tenant_occurred on {SCHEMA}.events (tenant, occurred_at)",
    f"""
    create table if not exists {SCHEMA}.event_ids (
        event_key    bytea primary key check (octet_length(event_key) = 16),
        received_at  timestamptz not null default now()
    )
    """,
    f"create index if not exists event_ids_received on {SCHEMA}.event_ids using brin (received_at)",
    f"""
    create table if not exists {SCHEMA}.batches (
        tenant           text not null,
        idempotency_key  text not null,
        request_hash     bytea not null,
        response         bytea not null,
        events           integer not null,
        accepted         integer not null,
        duplicates       integer not null,
        rejected         integer not null,
        first_seq        bigint,
        last_seq         bigint,
        created_at       timestamptz not null default now(),
        primary key (tenant, idempotency_key)
    )
    """,
    f"create index if not exists batches_created on {SCHEMA}.batches using brin (created_at)",
    f"""
    create table if not exists {SCHEMA}.failed_events (
        id               bigserial primary key,
        tenant           text not null,
        idempotency_key  text not null,
        event_index      integer not null,
        event_id         text,
        event_type       text,
        reason           text not null,
        payload          bytea not null,
        received_at      timestamptz not null default now()
    )
    """,
    f"create index if not exists failed_events_tenant on {SCHEMA}.failed_events (tenant, received_at)",
]


def event_key(tenant: str, event_id: str) -> bytes:
    """The dedup key of an event: a digest of its tenant and id (NUL cannot occur in either)."""
    return hashlib.blake2b(f"{tenant}\x00{event_id}".encode(), digest_size=16).digest()


@dataclass(frozen=True, slots=True)
class Maintenance:
    created: tuple[date, ...]
    dropped: tuple[date, ...]
    deleted_rows: int


def partition_name(day: date) -> str:
    return f"events_{day:%Y%m%d}"


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def first_kept_day(today: date, retention_days: int) -> date:
    """The oldest day of `occurred_at` kept: today and the `retention_days - 1` days before."""
    return today - timedelta(days=retention_days - 1)


async def setup(conn: asyncpg.Connection, *, today: date, retention_days: int, ahead_days: int) -> None:
    """Create the schema, its tables and the partitions of the retention window (idempotent)."""
    async with conn.transaction():
        for statement in _SETUP:
            await conn.execute(statement)
        layout = await conn.fetchval(f"select layout from {SCHEMA}.state")  # noqa: S608
        if layout != LAYOUT:
            raise RuntimeError(f"{SCHEMA} has layout {layout}; this version of Cohort knows {LAYOUT}")
    await create_partitions(conn, _days(first_kept_day(today, retention_days), today + timedelta(ahead_days)))


async def grant_read(conn: asyncpg.Connection, role: str) -> None:
    """Let `role` (the warehouse's reader) read the events and the watermark."""
    name = quote_identifier(role)
    await conn.execute(f"grant usage on schema {SCHEMA} to {name}")
    await conn.execute(f"grant select on {SCHEMA}.events, {SCHEMA}.state to {name}")


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def partitions(conn: asyncpg.Connection, *, detaching: bool = False) -> list[date]:
    """The days that have a partition (`detaching`: those whose detach was left unfinished)."""
    rows = await conn.fetch(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
        "where i.inhparent = $1::regclass and i.inhdetachpending = $2",
        f"{SCHEMA}.events",
        detaching,
    )
    days = []
    for row in rows:
        match = _PARTITION.fullmatch(row["relname"])
        if match:
            days.append(datetime.strptime(match.group(1), "%Y%m%d").date())
    return sorted(days)


async def create_partitions(conn: asyncpg.Connection, days: list[date]) -> list[date]:
    """The partitions of `days` that did not exist yet, created."""
    existing = set(await partitions(conn))
    created = []
    for day in sorted(set(days) - existing):
        start, end = day_start(day), day_start(day + timedelta(days=1))
        # Bounds are dates Cohort computed, never client values.
        await conn.execute(
            f"create table if not exists {SCHEMA}.{partition_name(day)} partition of {SCHEMA}.events "
            f"for values from ('{start.isoformat()}') to ('{end.isoformat()}')"
        )
        created.append(day)
    return created


async def maintain(
    conn: asyncpg.Connection, *, today: date, retention_days: int, ahead_days: int
) -> Maintenance | None:
    """Partitions made ahead, those past the retention dropped (detached concurrently, so
    ingestion and queries go on), bookkeeping rows of the same age deleted in chunks. None
    when another process is doing it. The caller bounds the connection's time (DDL waits
    for the transactions that use the table, within `lock_timeout`)."""
    if not await conn.fetchval("select pg_try_advisory_lock($1)", _MAINTENANCE_LOCK):
        return None
    try:
        first = first_kept_day(today, retention_days)
        created = await create_partitions(conn, _days(first, today + timedelta(days=ahead_days)))
        dropped = []
        for day in await partitions(conn, detaching=True):  # a detach interrupted earlier
            await conn.execute(
                f"alter table {SCHEMA}.events detach partition {SCHEMA}.{partition_name(day)} finalize"
            )
        for day in await partitions(conn):
            if day < first:
                name = f"{SCHEMA}.{partition_name(day)}"
                await conn.execute(f"alter table {SCHEMA}.events detach partition {name} concurrently")
                await conn.execute(f"drop table {name}")
                dropped.append(day)
        for day in await _detached(conn):
            if day < first:
                await conn.execute(f"drop table if exists {SCHEMA}.{partition_name(day)}")
        cutoff = day_start(first)
        deleted = 0
        for table, column in (
            ("event_ids", "received_at"),
            ("batches", "created_at"),
            ("failed_events", "received_at"),
        ):
            deleted += await _delete_before(conn, table, column, cutoff)
        if created or dropped:
            log.info("ingest partitions: created %s, dropped %s", _names(created), _names(dropped))
        return Maintenance(tuple(created), tuple(dropped), deleted)
    finally:
        await conn.execute("select pg_advisory_unlock($1)", _MAINTENANCE_LOCK)


async def _delete_before(conn: asyncpg.Connection, table: str, column: str, cutoff: datetime) -> int:
    deleted = 0
    while True:
        status = await conn.execute(
            f"delete from {SCHEMA}.{table} where ctid = any(array("  # noqa: S608 (names are Cohort's)
            f"select ctid from {SCHEMA}.{table} where {column} < $1 limit {_DELETE_CHUNK}))",
            cutoff,
        )
        count = int(status.split()[-1])
        deleted += count
        if count < _DELETE_CHUNK:
            return deleted


async def _detached(conn: asyncpg.Connection) -> list[date]:
    """Tables named like partitions that are no longer attached (a drop that did not happen)."""
    rows = await conn.fetch(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = $1 and c.relkind = 'r' and not c.relispartition",
        SCHEMA,
    )
    found = [_PARTITION.fullmatch(row["relname"]) for row in rows]
    return [datetime.strptime(match.group(1), "%Y%m%d").date() for match in found if match]


def _names(days: list[date]) -> str:
    return ", ".join(f"{day:%Y-%m-%d}" for day in days) or "none"


async def is_set_up(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("select to_regclass($1) is not null", f"{SCHEMA}.state"))
