"""Session fixtures: one freshly migrated and seeded PostgreSQL database per test run."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.demo.load import seed_demo
from api.migrations import upgrade
from authz.policy_store import PolicyStore
from schema.registry import Registry
from schema.validator import load_registry
from tests.databases import admin_postgres_url

TEST_SEED = 7
TEST_SCALE = "tiny"


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """A new database, migrated and seeded with the tiny demo warehouse, dropped afterwards."""
    keep: list[object] = []
    admin_url = make_url(admin_postgres_url(keep))
    name = f"cohort_test_{os.getpid()}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'drop database if exists "{name}"'))
        await conn.execute(text(f'create database "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    engine = create_async_engine(url)
    try:
        await upgrade(engine)
        await seed_demo(engine, scale=TEST_SCALE, seed=TEST_SEED)
        await PolicyStore(engine).seed()
    finally:
        await engine.dispose()
    yield url
    async with admin.connect() as conn:
        await conn.execute(text(f'drop database if exists "{name}" with (force)'))
    await admin.dispose()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, pool_size=4)
    yield engine
    await engine.dispose()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-snapshots", action="store_true", help="Rewrite golden SQL files.")


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_registry(Path(__file__).resolve().parents[1] / "schema" / "models")
