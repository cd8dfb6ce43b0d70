"""Minters (API tokens of the demo policy's roles) and helpers to mint and use embed sessions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth.api_tokens import ApiTokenStore

UNI = "northbridge-university"
ACME = "acme-corp"
Session = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture(scope="session")
async def minters(engine: AsyncEngine) -> dict[str, str]:
    """API tokens by name: a university's integration, the platform's host, a university admin."""
    store = ApiTokenStore(engine)
    tokens = {}
    for name, tenant, roles in (
        ("partner", UNI, ["partner_integration"]),
        ("host", "cohort-platform", ["embed_host"]),
        ("admin", UNI, ["university_admin"]),
    ):
        tokens[name], _ = await store.create(f"embed tests: {name}", tenant, roles)
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def session(client: httpx.AsyncClient, minters: dict[str, str]) -> Session:
    """session(minter="partner", **body) -> the response of POST /embed/sessions."""

    async def post(minter: str = "partner", **body: Any) -> httpx.Response:
        wanted = {
            "user": "dean@northbridge.example",
            "roles": ["university_admin"],
            "dashboards": ["course_progress"],
        }
        token = minters.get(minter, minter)
        return await client.post("/embed/sessions", json={**wanted, **body}, headers=bearer(token))

    return post
