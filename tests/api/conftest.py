"""An app on the seeded test database, and an HTTP client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return replace(Settings.from_env({}), reload_interval_s=0)


@pytest.fixture(scope="session")
async def app(settings: Settings, database_url: str) -> AsyncIterator[Starlette]:
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://cohort.test",
        headers={"accept": "application/graphql-response+json"},
    ) as client:
        yield client
