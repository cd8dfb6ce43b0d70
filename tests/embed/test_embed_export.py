"""Exports in embed sessions: locked filters hold, an expired session exports nothing (an
expired token must never fall back to unfiltered rows)."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from tests.embed.conftest import UNI, bearer
from tests.embed.test_embed_queries import _expired_token
from tests.resolvers.oracle import oracle

pytestmark = pytest.mark.integration


def parsed(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text)))


async def export(client: httpx.AsyncClient, query: str, token: str, **body: object) -> httpx.Response:
    return await client.post("/export.csv", json={"query": query, **body}, headers=bearer(token))


def refused(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == code
    return str(error["message"])


async def test_an_embed_sessions_locked_filters_hold_in_exports(
    client: httpx.AsyncClient, engine: AsyncEngine, minters: dict[str, str]
) -> None:
    courses = [
        c for (c,) in await oracle(engine, "select id from courses where partner_id = :t order by id", t=UNI)
    ]
    body = {
        "user": "dean",
        "roles": ["university_admin"],
        "dashboards": ["university_overview"],
        "locked_filters": [{"member": "courses.id", "values": courses[:2]}],
    }
    minted = await client.post("/embed/sessions", json=body, headers=bearer(minters["partner"]))
    token = minted.json()["token"]
    query = (
        "query Wide($all: [Int!]) { enrollments(where: {course: {id: {in: $all}}}) { course { id } count } }"
    )
    lines = parsed(await export(client, query, token, variables={"all": courses}))
    want = await oracle(
        engine,
        "select course_id, count(*) from enrollments where partner_id = :t and course_id = any(:c)"
        " group by 1 having count(distinct learner_id) >= 5",
        t=UNI,
        c=courses[:2],
    )
    assert sorted((int(a), int(b)) for a, b in lines[1:]) == sorted(want)
    other = await export(client, "{ feedback { responses } }", token)
    assert refused(other, 403, "FORBIDDEN").startswith("this embed session may not query feedback")


async def test_an_expired_or_missing_token_exports_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:

    expired = await export(client, "{ enrollments { count } }", _expired_token(settings, settings.data_dir))
    assert refused(expired, 401, "EMBED_SESSION_EXPIRED")
    missing = await client.post(
        "/export.csv", json={"query": "{ enrollments { count } }"}, headers={"authorization": ""}
    )
    assert refused(missing, 401, "UNAUTHENTICATED") == "bearer credentials are required"
