"""Run the Alembic migrations programmatically on an async engine."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command

_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def _upgrade(connection: Connection, revision: str) -> None:
    config = Config(str(_INI))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)


def _current(connection: Connection) -> tuple[set[str], set[str]]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    context = MigrationContext.configure(connection, opts={"version_table_schema": "cohort"})
    heads = set(ScriptDirectory.from_config(Config(str(_INI))).get_heads())
    return set(context.get_current_heads()), heads


async def state_is_current(engine: AsyncEngine) -> bool:
    """Whether Cohort's state tables exist and are at the newest revision."""
    async with engine.connect() as conn:
        current, heads = await conn.run_sync(_current)
    return current == heads
