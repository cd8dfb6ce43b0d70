"""Authentication, authorization, rate limits and policy reload, over HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.app import create_app
from api.auth.api_tokens import ApiTokenStore
from api.settings import Settings
from tests.databases import free_port, redis_url
from tests.resolvers.oracle import oracle
from tests.tokens import TEST_JWT_SECRET, Mint

pytestmark = pytest.mark.integration

GRAPHQL_RESPONSE = "application/graphql-response+json"
UNI = "northbridge-university"
BY_SUBJECT = "{ enrollments { course { subject } count } }"


async def post(app: Starlette, query: str, authorization: str | None) -> httpx.Response:
    headers = {"accept": GRAPHQL_RESPONSE}
    if authorization is not None:
        headers["authorization"] = authorization
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cohort.test"
    ) as client:
        return await client.post("/graphql", json={"query": query}, headers=headers)


def bearer(token: str) -> str:
    return f"Bearer {token}"


async def test_no_credentials_is_401_with_a_challenge(app: Starlette) -> None:
    response = await post(app, BY_SUBJECT, None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="cohort"'
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer a b",
        "Bearer not-a-jwt",
        "Bearer a.b",
        "Bearer a.b.c",
        "Bearer cohort_x",
    ],
)
async def test_malformed_credentials_are_4xx_never_500(app: Starlette, authorization: str) -> None:
    response = await post(app, BY_SUBJECT, authorization)
    assert response.status_code in (400, 401)
    assert response.headers["www-authenticate"].startswith('Bearer realm="cohort"')
    assert "Traceback" not in response.text


async def test_an_expired_token_is_rejected(app: Starlette) -> None:
    now = int(time.time())
    claims = {"sub": "x", "tenant": UNI, "roles": ["university_admin"], "aud": "cohort", "iss": "cohort"}
    token = jwt.encode({**claims, "iat": now - 7200, "exp": now - 3600}, TEST_JWT_SECRET, algorithm="HS256")
    response = await post(app, BY_SUBJECT, bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_university_admin_sees_only_their_university(
    app: Starlette, mint: Mint, engine: AsyncEngine
) -> None:
    token = mint(tenant=UNI, roles=["university_admin"])
    rows = (await post(app, BY_SUBJECT, bearer(token))).json()["data"]["enrollments"]
    expected = await oracle(
        engine,
        "select c.subject, count(*) from enrollments e join courses c on c.id = e.course_id "
        "where e.partner_id = :p group by 1 having count(distinct e.learner_id) >= 5",
        p=UNI,
    )
    assert {row["course"]["subject"]: row["count"] for row in rows} == dict(expected)
    everything = await oracle(engine, "select count(*) from enrollments")
    assert sum(row["count"] for row in rows) < everything[0][0]


async def test_forbidden_member_and_masked_member(app: Starlette, mint: Mint) -> None:
    partner = bearer(mint(tenant=UNI, roles=["partner_integration"]))
    body = (await post(app, "{ enrollments { learner { email } count } }", partner)).json()
    assert body["data"] is None  # the rows are a non-null list: a failed field nulls data
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "learners.email" in body["errors"][0]["message"]

    instructor = bearer(mint(tenant=UNI, roles=["instructor"], attrs={"instructor_id": 1}))
    body = (await post(app, "{ enrollments { learner { email } count } }", instructor)).json()
    assert "errors" not in body, body
    assert {row["learner"]["email"] for row in body["data"]["enrollments"]} <= {"***"}


async def test_api_tokens_work_over_http_until_revoked(app: Starlette, engine: AsyncEngine) -> None:
    store = ApiTokenStore(engine, cache_ttl_s=0)
    token, record = await store.create("dashboard sync", UNI, ["partner_integration"])
    response = await post(app, "{ enrollments { count } }", bearer(token))
    assert response.status_code == 200, response.text
    count = response.json()["data"]["enrollments"][0]["count"]
    expected = await oracle(engine, "select count(*) from enrollments where partner_id = :p", p=UNI)
    assert count == expected[0][0]
    assert await store.revoke(record.id)
    app.state.cohort.authenticator.tokens.cache_ttl_s = 0  # the app's own cache: expire at once
    app.state.cohort.authenticator.tokens._cache.clear()
    response = await post(app, "{ enrollments { count } }", bearer(token))
    assert response.status_code == 401


@pytest.fixture
async def limited(settings: Settings, database_url: str) -> AsyncIterator[Starlette]:
    keep: list[object] = []
    app = create_app(
        replace(settings, redis_url=redis_url(keep), rate_limit_per_minute=60, rate_limit_burst=2),
        database_url,
    )
    async with app.router.lifespan_context(app):
        yield app


async def test_rate_limit_per_principal(limited: Starlette, mint: Mint) -> None:
    token = bearer(mint(subject=f"rate-{free_port()}"))
    first = await post(limited, "{ courses { count } }", token)
    assert first.status_code == 200 and first.headers["ratelimit-limit"] == "2"
    await post(limited, "{ courses { count } }", token)
    refused = await post(limited, "{ courses { count } }", token)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    other = await post(limited, "{ courses { count } }", bearer(mint(subject="someone-else")))
    assert other.status_code == 200  # buckets are per principal


async def test_requests_go_through_when_redis_is_down(
    settings: Settings, database_url: str, mint: Mint
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(
        replace(settings, redis_url=dead, rate_limit_per_minute=60, rate_limit_burst=1), database_url
    )
    async with app.router.lifespan_context(app):
        token = bearer(mint())
        statuses = [(await post(app, "{ courses { count } }", token)).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        assert app.state.cohort.rate_limiter.failures >= 1


async def test_a_policy_edit_takes_effect_without_a_restart(
    settings: Settings, database_url: str, mint: Mint, engine: AsyncEngine
) -> None:
    tenant = "policy-reload-university"  # owns nothing: no other test reads as it
    app = create_app(replace(settings, policy_reload_interval_s=0.05), database_url)
    deny = {"v0": "role:university_admin", "v1": tenant, "v2": "feedback", "v3": "read", "v4": "deny"}

    async def status() -> tuple[Any, ...]:
        body = (
            await post(
                app, "{ feedback { responses } }", bearer(mint(tenant=tenant, roles=["university_admin"]))
            )
        ).json()
        return (body.get("errors") or [{}])[0].get("extensions", {}).get(
            "code"
        ), app.state.cohort.policies.current.version

    async def eventually(code: str | None) -> int:
        for _ in range(100):
            found, version = await status()
            if found == code:
                return int(version)
            await asyncio.sleep(0.05)
        raise AssertionError(f"the policy did not change to {code}")

    async with app.router.lifespan_context(app):
        before = await eventually(None)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "insert into cohort.casbin_rule (ptype, v0, v1, v2, v3, v4)"
                    " values ('p', :v0, :v1, :v2, :v3, :v4)"
                ),
                deny,
            )
        try:
            denied = await eventually("FORBIDDEN")
            assert denied > before
        finally:
            async with engine.begin() as conn:
                await conn.execute(
                    text("delete from cohort.casbin_rule where ptype = 'p' and v1 = :v1 and v4 = 'deny'"),
                    {"v1": tenant},
                )
        assert await eventually(None) > denied
