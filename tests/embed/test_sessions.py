"""POST /embed/sessions: who may mint, what they may grant, and what is refused and audited."""

from __future__ import annotations

import logging
import time

import httpx
import jwt
import orjson
import pytest

from api.embed.tokens import AUDIENCE, TOKEN_TYPE
from tests.embed.conftest import ACME, UNI, Session, bearer
from tests.tokens import Mint

pytestmark = pytest.mark.integration


def audited(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, object]]:
    records = [orjson.loads(r.getMessage()) for r in caplog.records if r.name == "cohort.audit"]
    return [record for record in records if record["event"] == event]


def refusal(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == code
    return str(error["message"])


async def test_a_partner_token_mints_a_session_for_its_staff(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "cohort.audit"):
        started = time.time()
        response = await session(
            roles=["instructor"],
            attrs={"instructor_id": 3},
            dashboards=["course_progress", "learner_feedback"],
            locked_filters=[{"member": "courses.id", "op": "in", "values": [1, 2]}],
        )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["expires_in"] == 600 and body["refresh_in"] == 540
    assert (body["tenant"], body["roles"]) == (UNI, ["instructor"])
    assert body["dashboards"] == ["course_progress", "learner_feedback"]
    header = jwt.get_unverified_header(body["token"])
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert (header["typ"], header["alg"]) == (TOKEN_TYPE, "HS256")
    assert claims["aud"] == AUDIENCE and claims["jti"] == body["session_id"]
    assert started - 1 <= claims["iat"] and claims["exp"] == claims["iat"] + 600
    assert claims["locked"] == [["courses", "id", "in", [1, 2]]]
    assert set(claims["models"]) == {"module_funnel", "enrollments", "feedback", "courses"}
    [created] = audited(caplog, "embed_session_created")
    assert created["session"] == body["session_id"] and created["principal"].startswith("token:")
    assert created["granted"] == ["instructor"] and created["for_tenant"] == UNI
    assert body["token"] not in caplog.text and body["token"].split(".")[2] not in caplog.text


async def test_a_role_without_embed_rules_may_not_mint(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "cohort.audit"):
        response = await session(minter="admin")
    assert refusal(response, 403, "FORBIDDEN") == "this token's roles may not mint embed sessions"
    [refused] = audited(caplog, "embed_session_refused")
    assert refused["status"] == 403 and refused["roles"] == ["university_admin"]


async def test_roles_wider_than_the_minter_may_grant(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "cohort.audit"):
        response = await session(roles=["instructor", "platform_admin"])
    assert refusal(response, 403, "FORBIDDEN") == (
        "this token may not grant the role(s) platform_admin (it may grant: instructor, university_admin)"
    )
    assert audited(caplog, "embed_session_refused")


async def test_a_tenant_scoped_minter_mints_for_its_own_tenant(session: Session) -> None:
    response = await session(tenant=ACME)
    assert (
        refusal(response, 403, "FORBIDDEN")
        == f"this token mints embed sessions for its own tenant only ({UNI})"
    )
    assert (await session(tenant=UNI)).status_code == 201


async def test_the_platform_host_mints_for_any_tenant(session: Session) -> None:
    response = await session(
        minter="host", tenant=ACME, roles=["enterprise_admin"], dashboards=["skills_gained"]
    )
    assert response.status_code == 201, response.text
    assert response.json()["tenant"] == ACME
    refused = await session(minter="host", tenant=ACME, roles=["partner_integration"])
    assert refusal(refused, 403, "FORBIDDEN").startswith(
        "this token may not grant the role(s) partner_integration"
    )


@pytest.mark.parametrize(("ttl", "status"), [(3601, 400), (29, 400), (3600, 201), (60, 201)])
async def test_session_length(session: Session, ttl: int, status: int) -> None:
    response = await session(ttl_s=ttl)
    assert response.status_code == status, response.text
    if status == 400:
        assert refusal(response, 400, "BAD_USER_INPUT") == f"ttl_s is between 30 and 3600 seconds, got {ttl}"
    else:
        assert response.json()["expires_in"] == ttl


async def test_only_api_tokens_mint(session: Session, mint: Mint) -> None:
    jwt_user = mint(tenant=UNI, roles=["partner_integration"])
    message = "embed sessions are minted with an API token, by the host's back end"
    assert refusal(await session(minter=jwt_user), 403, "FORBIDDEN") == message
    embed = (await session()).json()["token"]
    assert refusal(await session(minter=embed), 403, "FORBIDDEN") == message


async def test_no_or_a_bad_minting_token(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "cohort.audit"):
        response = await client.post("/embed/sessions", json={}, headers={"authorization": ""})
        bad = await client.post("/embed/sessions", json={}, headers=bearer("cohort_" + "x" * 39))
    assert refusal(response, 401, "UNAUTHENTICATED") == "bearer credentials are required"
    assert refusal(bad, 401, "UNAUTHENTICATED") == "the API token is malformed"
    assert len(audited(caplog, "embed_session_refused")) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"dashboards": ["nope"]},
            "unknown dashboard(s) nope (dashboards: course_progress, learner_feedback,",
        ),
        (
            {"dashboards": []},
            "the session request is not valid: dashboards: List should have at least 1 item",
        ),
        ({"roles": ["bad role"]}, "invalid role name"),
        ({"user": "two words"}, "invalid user: 1 to 255 printable ASCII characters, no spaces"),
        ({"secret": 1}, "the session request is not valid: secret: Extra inputs are not permitted"),
        ({"attrs": {"instructor_id": True}}, "the session request is not valid: attrs.instructor_id.str"),
        (
            {"locked_filters": [{"member": "courses.nothing", "values": [1]}]},
            "locked filter 'courses.nothing': name a dimension as model.dimension",
        ),
        (
            {"locked_filters": [{"member": "courses.id", "values": ["three"]}]},
            "locked filter: filter on 'courses.id' expects a number, got str",
        ),
        (
            {"locked_filters": [{"member": "courses.id", "op": "contains", "values": [1]}]},
            "locked filter: filter on 'courses.id': contains is not valid for a number",
        ),
        (
            {"dashboards": ["skills_gained"], "locked_filters": [{"member": "courses.id", "values": [1]}]},
            "the locked filter courses.id cannot apply to skills, which a dashboard queries",
        ),
        (
            {"locked_filters": [{"member": "courses.id", "values": list(range(501))}]},
            "locked filters take 500 values in all at most",
        ),
    ],
)
async def test_requests_refused_before_minting(
    session: Session, caplog: pytest.LogCaptureFixture, body: dict[str, object], message: str
) -> None:
    with caplog.at_level(logging.WARNING, "cohort.audit"):
        response = await session(**body)
    assert refusal(response, 400, "BAD_USER_INPUT").startswith(message)
    [refused] = audited(caplog, "embed_session_refused")
    assert str(refused["reason"]).startswith(message)


async def test_not_json(client: httpx.AsyncClient, minters: dict[str, str]) -> None:
    response = await client.post("/embed/sessions", content=b"user=x", headers=bearer(minters["partner"]))
    assert refusal(response, 415, "BAD_USER_INPUT") == "send the request as application/json"
    headers = {**bearer(minters["partner"]), "content-type": "application/json"}
    big = await client.post("/embed/sessions", content=b"[" + b"1," * 40_000 + b"1]", headers=headers)
    assert refusal(big, 413, "BAD_USER_INPUT") == "the request body is larger than 64000 bytes"
