"""Where rollups live: the `cohort_rollups` schema of the warehouse's database.

- `state`: one row per rollup (model, rollup): the table serving its current version, the
  watermark its rows go up to, the first instant it holds every row of (`covered_from`,
  with a retention), its earliest bucket, when it was built and refreshed, its size.
  Queries read the watermark from here in their own statement.
- `retired`: tables replaced by a new version, dropped a while later (a server may still
  run a query compiled against one until it reads the new state, every few seconds).
- one table per rollup version, named `<model>__<rollup>_<version>`.
"""

from __future__ import annotations

import asyncpg

from resolvers.rollups.layout import SCHEMA

_SETUP = [
    f"create schema if not exists {SCHEMA}",
    f"""
    create table if not exists {SCHEMA}.state (
        model         text not null,
        rollup        text not null,
        version       text not null,
        table_name    text not null,
        watermark     bigint not null,
        covered_from  timestamptz,
        first_at      timestamptz,
        built_at      timestamptz not null,
        refreshed_at  timestamptz not null,
        rebuilt_at    timestamptz,
        rows          bigint not null,
        primary key (model, rollup)
    )
    """,
    f"""
    create table if not exists {SCHEMA}.retired (
        table_name  text primary key,
        retired_at  timestamptz not null default now()
    )
    """,
]


async def setup(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        for statement in _SETUP:
            await conn.execute(statement)


async def grant_read(conn: asyncpg.Connection, role: str) -> None:
    """Let `role` (the warehouse's reader) read the state and every rollup table, also those
    created later by this role."""
    name = '"' + role.replace('"', '""') + '"'
    await conn.execute(f"grant usage on schema {SCHEMA} to {name}")
    await conn.execute(f"grant select on all tables in schema {SCHEMA} to {name}")
    await conn.execute(f"alter default privileges in schema {SCHEMA} grant select on tables to {name}")


async def is_set_up(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("select to_regclass($1) is not null", f"{SCHEMA}.state"))
