"""Alembic environment: runs migrations on a connection handed in by `api.migrations`,
or on DATABASE_URL (async engine) when called from the alembic command line."""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import context


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_env() -> None:
    from api.services import asyncpg_url

    url = os.environ.get("DATABASE_URL")
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
