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
