"""An app started (lifespan included) with an HTTP client on it, for tests that need their
own settings."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from api.app import create_app
from api.settings import Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"


@contextlib.asynccontextmanager
async def serving(
    settings: Settings,
    database_url: str,
    headers: dict[str, str] | None = None,
    state_database_url: str | None = None,
    ingest_database_url: str | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database_url, state_database_url, ingest_database_url)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://cohort.test",
            headers={"accept": GRAPHQL_RESPONSE, **(headers or {})},
        ) as client,
    ):
        client.app = app  # type: ignore[attr-defined]
        yield client
