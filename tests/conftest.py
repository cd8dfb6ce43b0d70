"""Session fixtures: one freshly migrated and seeded PostgreSQL database per test run."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette

from api.app import create_app
from api.auth.jwt_verifier import mint_token
from api.demo.load import seed_demo
from api.migrations import upgrade
from api.settings import AuthSettings, Settings
from authz.policy_store import PolicyStore
from schema.registry import Registry
from schema.validator import load_registry
from tests.databases import admin_postgres_url
from tests.ingestion import setup_ingestion
from tests.tokens import TEST_JWT_SECRET, Mint

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
        await setup_ingestion(url)
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


# --- the app, and principals to call it with ---------------------------------------


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return replace(
        Settings.from_env({}),
        reload_interval_s=0,
        policy_reload_interval_s=0,
        data_dir=tmp_path_factory.mktemp("data"),
        auth=AuthSettings(jwt_secret=TEST_JWT_SECRET),
        rate_limit_per_minute=0,
    )


@pytest.fixture(scope="session")
def mint(settings: Settings) -> Mint:
    """mint(tenant=..., roles=[...], attrs={...}) -> a signed JWT for these settings."""

    def make(tenant: str = "cohort-platform", roles: list[str] | None = None, **kwargs: object) -> str:
        return mint_token(
            settings.auth,
            Path(settings.data_dir),
            subject=str(kwargs.pop("subject", "tester")),
            tenant=tenant,
            roles=roles or ["platform_admin"],
            **kwargs,  # type: ignore[arg-type]
        )

    return make


@pytest.fixture(scope="session")
def admin_headers(mint: Mint) -> dict[str, str]:
    return {"authorization": f"Bearer {mint()}"}


@pytest.fixture(scope="session")
async def app(settings: Settings, database_url: str) -> AsyncIterator[Starlette]:
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def client(app: Starlette, admin_headers: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://cohort.test",
        headers={"accept": "application/graphql-response+json", **admin_headers},
    ) as client:
        yield client
