"""Alembic environment: runs Cohort's own migrations (its state, in the `cohort` schema) on a
connection handed in by `api.migrations`, or on COHORT_STATE_DATABASE_URL / DATABASE_URL
(async engine) when called from the alembic command line. Never touches warehouse tables."""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import context

STATE_SCHEMA = "cohort"


def _run(connection: Connection) -> None:
    from api.state_schema import adopt_legacy_layout, ensure_state_schema

    ensure_state_schema(connection)
    adopt_legacy_layout(connection)
    context.configure(
        connection=connection,
        target_metadata=None,
        transaction_per_migration=True,
        version_table_schema=STATE_SCHEMA,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_env() -> None:
    from api.services import asyncpg_url

    url = os.environ.get("COHORT_STATE_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL is not set; use `cohort migrate` for the embedded database")
    engine = create_async_engine(asyncpg_url(url))
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_from_env())
