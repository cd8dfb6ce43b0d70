"""Embed tokens on /graphql: locked filters narrow every query (checked against hand-written
SQL), a client's `where` cannot widen them, and expired, tampered or foreign tokens are
refused with their codes and audited."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import httpx
import jwt
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth.errors import AuthenticationError
from api.auth.jwt_verifier import JwtVerifier
from api.embed.tokens import EmbedSession, EmbedTokens
from api.settings import Settings
from authz.principal import LockedFilter
from tests.embed.conftest import UNI, Session, bearer
from tests.resolvers.oracle import oracle
from tests.tokens import TEST_JWT_SECRET, Mint

pytestmark = pytest.mark.integration

BY_COURSE = "{ enrollments(orderBy: [{course: {id: ASC}}]) { course { id } count } }"


async def northbridge_courses(engine: AsyncEngine) -> list[int]:
    rows = await oracle(engine, "select id from courses where partner_id = :t order by id", t=UNI)
    return [course for (course,) in rows]


async def want_by_course(
    engine: AsyncEngine, courses: list[int], status: str | None = None
) -> list[tuple[int, int]]:
    rows = await oracle(
        engine,
        "select course_id, count(*) from enrollments where partner_id = :t and course_id = any(:c)"
        " and (cast(:s as text) is null or status = :s)"
        " group by course_id having count(distinct learner_id) >= 5 order by course_id",
        t=UNI,
        c=courses,
        s=status,
    )
    return [(course, count) for course, count in rows]


async def graphql(client: httpx.AsyncClient, token: str, query: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": query}, headers=bearer(token))


def rows(response: httpx.Response) -> list[tuple[int, int]]:
    assert response.status_code == 200, response.text
    payload = response.json()
    assert "errors" not in payload, payload
    return [(row["course"]["id"], row["count"]) for row in payload["data"]["enrollments"]]


async def test_locked_filters_narrow_every_query(
    client: httpx.AsyncClient, engine: AsyncEngine, session: Session
) -> None:
    courses = await northbridge_courses(engine)
    locked = courses[:2]
    assert len(courses) > 2
    token = (await session(locked_filters=[{"member": "courses.id", "values": locked}])).json()["token"]
    got = rows(await graphql(client, token, BY_COURSE))
    assert got == await want_by_course(engine, locked)
    assert {course for course, _ in got} == set(locked)
    # a tile of the session's dashboard, its own way: the funnel is narrowed too
    funnel = await graphql(client, token, "{ moduleFunnel { course { id } learnersReached } }")
    assert {row["course"]["id"] for row in funnel.json()["data"]["moduleFunnel"]} <= set(locked)


@pytest.mark.parametrize(
    "where",
    [
        "{course: {id: {in: $all}}}",
        '{OR: [{course: {id: {in: $all}}}, {status: {notEquals: "none"}}]}',
        "{OR: [{course: {id: {notIn: [0]}}}, {course: {id: {set: false}}}, {course: {id: {in: $all}}}]}",
    ],
)
async def test_a_where_that_tries_to_widen_is_still_narrowed(
    client: httpx.AsyncClient, engine: AsyncEngine, session: Session, where: str
) -> None:
    courses = await northbridge_courses(engine)
    locked = courses[1:3]
    token = (await session(locked_filters=[{"member": "courses.id", "values": locked}])).json()["token"]
    query = (
        "query Wide($all: [Int!]) { enrollments(where: " + where + ", orderBy: [{course: {id: ASC}}])"
        " { course { id } count } }"
    )
    response = await client.post(
        "/graphql", json={"query": query, "variables": {"all": courses}}, headers=bearer(token)
    )
    assert rows(response) == await want_by_course(engine, locked)


async def test_a_narrower_where_narrows_further(
    client: httpx.AsyncClient, engine: AsyncEngine, session: Session
) -> None:
    locked = (await northbridge_courses(engine))[:3]
    token = (await session(locked_filters=[{"member": "courses.id", "values": locked}])).json()["token"]
    query = (
        '{ enrollments(where: {status: {equals: "completed"}}, orderBy: [{course: {id: ASC}}])'
        " { course { id } count } }"
    )
    assert rows(await graphql(client, token, query)) == await want_by_course(engine, locked, "completed")


async def test_the_session_queries_its_dashboards_models_only(
    client: httpx.AsyncClient, session: Session
) -> None:
    token = (await session(dashboards=["course_progress"])).json()["token"]
    response = await graphql(client, token, "{ feedback { responses } }")
    payload = response.json()
    assert payload["data"] is None
    [error] = payload["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["message"].startswith("this embed session may not query feedback")


async def test_the_roles_of_the_session_still_apply(
    client: httpx.AsyncClient, engine: AsyncEngine, session: Session
) -> None:
    """An instructor session sees the instructor's courses only, whatever the lock allows."""
    [(instructor,)] = await oracle(
        engine,
        "select instructor_id from courses where partner_id = :t group by 1 order by count(*) desc limit 1",
        t=UNI,
    )
    mine = [
        c for (c,) in await oracle(engine, "select id from courses where instructor_id = :i", i=instructor)
    ]
    token = (
        await session(
            roles=["instructor"],
            attrs={"instructor_id": instructor},
            locked_filters=[{"member": "courses.id", "values": await northbridge_courses(engine)}],
        )
    ).json()["token"]
    response = await graphql(client, token, "{ courses { id } }")
    assert {row["id"] for row in response.json()["data"]["courses"]} == set(mine)


def _expired_token(settings: Settings, data_dir: Path) -> str:
    tokens = EmbedTokens.from_settings(settings.embed, data_dir, clock=lambda: 1_000_000.0)  # 1970
    session = EmbedSession(
        "dean",
        UNI,
        ("university_admin",),
        {},
        ("course_progress",),
        frozenset({"enrollments"}),
        (),
        "token:1",
    )
    return tokens.mint(session, 600).token


async def test_an_expired_session_is_refused_with_its_code(
    client: httpx.AsyncClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    token = _expired_token(settings, settings.data_dir)
    with caplog.at_level(logging.WARNING, "cohort.audit"):
        response = await graphql(client, token, BY_COURSE)
    assert response.status_code == 401
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "EMBED_SESSION_EXPIRED"
    assert error["message"] == "the embed session has expired: ask the host for a new one"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    [record] = [orjson.loads(r.getMessage()) for r in caplog.records if r.name == "cohort.audit"]
    assert record["event"] == "embed_token_refused" and record["reason"] == error["message"]
    assert record["session"] == jwt.decode(token, options={"verify_signature": False})["jti"]
    assert token not in caplog.text


def _tampered(token: str, **changes: object) -> str:
    header, payload, signature = token.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(orjson.dumps({**claims, **changes})).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_a_tampered_token_is_refused(
    client: httpx.AsyncClient, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    token = (await session(locked_filters=[{"member": "courses.id", "values": [1]}])).json()["token"]
    for forged in (
        _tampered(token, roles=["platform_admin"]),
        _tampered(token, locked=[]),
        _tampered(token, exp=4_000_000_000),
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
    ):
        with caplog.at_level(logging.WARNING, "cohort.audit"):
            response = await graphql(client, forged, BY_COURSE)
        assert response.status_code == 401, response.text
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        assert error["message"] == "the embed token's signature is not valid"
    refusals = [orjson.loads(r.getMessage()) for r in caplog.records if r.name == "cohort.audit"]
    assert len(refusals) == 4 and {r["event"] for r in refusals} == {"embed_token_refused"}


async def test_embed_and_normal_tokens_are_never_taken_for_each_other(
    client: httpx.AsyncClient, session: Session, settings: Settings, mint: Mint
) -> None:
    embed = (await session()).json()["token"]
    verifier = JwtVerifier(settings.auth, settings.data_dir)
    with pytest.raises(AuthenticationError):  # the normal path: another audience, another key
        verifier.verify(embed)
    tokens = EmbedTokens.from_settings(settings.embed, settings.data_dir)
    with pytest.raises(AuthenticationError) as refused:
        tokens.verify(mint(tenant=UNI, roles=["platform_admin"]))
    assert refused.value.reason == "the embed token's signature is not valid"  # another key
    # a normal JWT that says it is an embed token, signed with the JWT secret
    claims = jwt.decode(embed, options={"verify_signature": False})
    forged = jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256", headers={"typ": "cohort-embed+jwt"})
    response = await graphql(client, forged, BY_COURSE)
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "the embed token's signature is not valid"
    # and one with the embed audience sent as a normal JWT
    normal = jwt.encode({**claims, "iss": "cohort"}, TEST_JWT_SECRET, algorithm="HS256")
    response = await graphql(client, normal, BY_COURSE)
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "the token is meant for another audience"


async def test_a_locked_filter_in_the_token_is_applied_as_signed(settings: Settings) -> None:
    tokens = EmbedTokens.from_settings(settings.embed, settings.data_dir)
    lock = LockedFilter("courses", "id", "in", (4, 5))
    minted = tokens.mint(
        EmbedSession(
            "u",
            UNI,
            ("university_admin",),
            {"k": 1},
            ("course_progress",),
            frozenset({"courses"}),
            (lock,),
            "token:2",
        ),
        60,
    )
    principal = tokens.verify(minted.token)
    assert principal.kind == "embed" and principal.subject == "embed:u"
    assert principal.embed is not None and principal.embed.locked == (lock,)
    assert principal.embed.minted_by == "token:2" and dict(principal.attributes) == {"k": 1}
