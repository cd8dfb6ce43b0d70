"""An app on the seeded test database, and an HTTP client for it (a platform admin)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.auth.jwt_verifier import mint_token
from api.settings import AuthSettings, Settings

TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256!"
Mint = Callable[..., str]


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
