"""What browsers see: CORS for the embed origins only, the page's framing policy, the
dashboard spec an embed session may open, and no token in any log line."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import orjson
import pytest

from api.settings import EmbedSettings, Settings, SettingsError
from tests.embed.conftest import Session, bearer
from tests.serving import serving
from tests.tokens import Mint

pytestmark = pytest.mark.integration

LMS = "https://lms.example.com"
OTHER = "https://evil.example.net"


@pytest.fixture(scope="module")
async def browser(settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    configured = replace(settings, embed=EmbedSettings(origins=(LMS, "http://localhost:3000")))
    async with serving(configured, database_url) as client:
        yield client


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": method,
        "access-control-request-headers": "authorization, content-type",
    }


async def test_preflight_from_an_allowed_origin(browser: httpx.AsyncClient) -> None:
    for path in ("/graphql", "/export.csv", "/embed/dashboards/course_progress/spec"):
        response = await browser.options(path, headers=preflight(LMS))
        assert response.status_code == 200, (path, response.text)
        assert response.headers["access-control-allow-origin"] == LMS
        allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type"} <= allowed
        assert "access-control-allow-credentials" not in response.headers  # bearer tokens, no cookies
        assert "Origin" in response.headers["vary"]


async def test_preflight_from_another_origin_is_refused(browser: httpx.AsyncClient) -> None:
    response = await browser.options("/graphql", headers=preflight(OTHER))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    sneaky = await browser.options("/graphql", headers=preflight(LMS + ".evil.example.net"))
    assert sneaky.status_code == 400


async def test_minting_is_not_open_to_browsers(browser: httpx.AsyncClient) -> None:
    response = await browser.options("/embed/sessions", headers=preflight(LMS))
    assert response.status_code == 405
    assert "access-control-allow-origin" not in response.headers


async def test_a_cross_origin_query_gets_the_headers_it_needs(browser: httpx.AsyncClient, mint: Mint) -> None:
    headers = {"origin": LMS, **bearer(mint())}
    response = await browser.post("/graphql", json={"query": "{ courses { count } }"}, headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == LMS
    assert "RateLimit-Remaining" in response.headers["access-control-expose-headers"]
    other = await browser.post(
        "/graphql", json={"query": "{ courses { count } }"}, headers={**headers, "origin": OTHER}
    )
    assert "access-control-allow-origin" not in other.headers  # the browser keeps the answer from the page


async def test_without_origins_nothing_is_cross_origin(client: httpx.AsyncClient) -> None:
    response = await client.options("/graphql", headers=preflight(LMS))
    assert "access-control-allow-origin" not in response.headers


async def test_the_page_may_be_framed_by_the_embed_origins_only(
    browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    response = await browser.get("/embed/dashboards/course_progress")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://lms.example.com http://localhost:3000" in policy
    assert "x-frame-options" not in response.headers  # it cannot list origins; CSP does
    assert response.headers["referrer-policy"] == "no-referrer"
    assert 'data-spec="/embed/dashboards/course_progress/spec"' in response.text
    missing = await browser.get("/embed/dashboards/nothing")
    assert missing.status_code == 404 and "frame-ancestors" in missing.headers["content-security-policy"]
    alone = await client.get("/embed/dashboards/course_progress")
    assert alone.headers["content-security-policy"].endswith("frame-ancestors 'self'")


async def test_the_spec_of_the_sessions_dashboards(
    client: httpx.AsyncClient, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    minted = (
        await session(
            dashboards=["course_progress"], locked_filters=[{"member": "courses.id", "values": [1]}]
        )
    ).json()
    token = minted["token"]
    response = await client.get("/embed/dashboards/course_progress/spec", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    spec = response.json()
    assert spec["name"] == "course_progress" and spec["tiles"][0]["chart"] == "funnel"
    assert spec["tiles"][0]["document"].startswith("query CourseProgressFunnel(")
    assert spec["session"] == {
        "id": minted["session_id"],
        "dashboards": ["course_progress"],
        "locked": [{"member": "courses.id", "op": "in", "values": [1]}],
    }
    with caplog.at_level(logging.WARNING, "cohort.audit"):
        for name in ("learner_feedback", "nothing"):  # another dashboard, or none: the same answer
            refused = await client.get(f"/embed/dashboards/{name}/spec", headers=bearer(token))
            assert refused.status_code == 403
            assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    records = [orjson.loads(r.getMessage()) for r in caplog.records if r.name == "cohort.audit"]
    assert [(r["event"], r["dashboard"]) for r in records] == [
        ("embed_dashboard_refused", "learner_feedback"),
        ("embed_dashboard_refused", "nothing"),
    ]


async def test_the_spec_for_other_principals(client: httpx.AsyncClient, mint: Mint) -> None:
    headers = bearer(mint())
    assert (await client.get("/embed/dashboards/skills_gained/spec", headers=headers)).json()[
        "session"
    ] is None
    assert (await client.get("/embed/dashboards/nothing/spec", headers=headers)).status_code == 404
    assert (
        await client.get("/embed/dashboards/skills_gained/spec", headers={"authorization": ""})
    ).status_code == 401


async def test_no_token_in_any_log_line(
    client: httpx.AsyncClient, session: Session, minters: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        minted = (await session()).json()
        token = minted["token"]
        await client.post("/graphql", json={"query": "{ enrollments { count } }"}, headers=bearer(token))
        await client.post("/graphql", json={"query": "{ feedback { responses } }"}, headers=bearer(token))
        await client.post("/graphql", json={"query": "{ x }"}, headers=bearer(token[:-3] + "abc"))
        await client.get("/embed/dashboards/learner_feedback/spec", headers=bearer(token))
        await session(roles=["platform_admin"])
    text = caplog.text
    assert minted["session_id"] in text  # the audit names the session...
    for secret in (token, token.split(".")[2], minters["partner"], minters["partner"][8:]):
        assert secret not in text  # ...never a token


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"origins": ("https://lms.example.com/",)}, "is not an origin"),
        ({"origins": ("*",)}, "is not an origin"),
        ({"origins": ("https://LMS.example.com",)}, "is not an origin"),
        ({"max_ttl_s": 7200}, "COHORT_EMBED_MAX_TTL_S must be between 60 and 3600"),
        ({"ttl_s": 4000}, "COHORT_EMBED_TTL_S must be between 1 and COHORT_EMBED_MAX_TTL_S"),
        ({"secret": "short"}, "COHORT_EMBED_SECRET must be at least 32 bytes"),
    ],
)
def test_embed_settings_are_checked(settings: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        EmbedSettings(**settings)  # type: ignore[arg-type]


def test_embed_settings_from_the_environment() -> None:
    env = {"COHORT_EMBED_ORIGINS": "https://a.example, http://localhost:3000,,https://a.example"}
    embed = Settings.from_env(env).embed
    assert embed.origins == ("https://a.example", "http://localhost:3000")
    assert (embed.ttl_s, embed.max_ttl_s) == (600, 3600)
