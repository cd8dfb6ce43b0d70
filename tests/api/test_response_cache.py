"""Whole responses answered before GraphQL: what is stored, who may read it, when it is
outdated, and that rate limits still apply to it. Real Redis, real PostgreSQL."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from api.limits import Limits
from api.rate_limit import principal_key, slot_tag
from api.response_cache import PREFIX, Identity, response_key
from api.settings import Settings
from authz.principal import EmbedScope, LockedFilter, Principal
from tests.databases import redis_url
from tests.resolvers.oracle import oracle
from tests.serving import serving
from tests.tokens import Mint

UNI = "northbridge-university"
OTHER = "aurora-polytechnic"
BY_SUBJECT = "{ courses(limit: 500) { subject count } }"


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    keep: list[object] = []
    client = Redis.from_url(redis_url(keep))
    yield client
    await client.aclose()


@pytest.fixture
async def cached(settings: Settings, database_url: str, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    keep: list[object] = []
    async with serving(replace(settings, redis_url=redis_url(keep), cache=True), database_url) as client:
        await _forget_everything(redis)
        yield client


async def _forget_everything(redis: Redis) -> None:
    for pattern in (PREFIX + "*", "cohort:result:*"):
        async for key in redis.scan_iter(match=pattern):
            await redis.delete(key)


async def _post(client: httpx.AsyncClient, token: str, query: str = BY_SUBJECT) -> httpx.Response:
    return await client.post("/graphql", json={"query": query}, headers={"authorization": f"Bearer {token}"})


async def _responses(redis: Redis, tenant: str, subject: str) -> list[bytes]:
    tag = slot_tag(principal_key(subject, tenant))
    return [key async for key in redis.scan_iter(match=PREFIX + tag.replace("{", "[{]") + "*")]


async def test_a_repeat_is_answered_without_running_graphql(
    cached: httpx.AsyncClient, mint: Mint, redis: Redis, engine: AsyncEngine
) -> None:
    token = mint(tenant=UNI, roles=["university_admin"])
    first = (await _post(cached, token)).json()
    assert first["extensions"]["cache"]["courses"]["hit"] is False
    assert len(await _responses(redis, UNI, "user:tester")) == 1
    # Without the results below it, a second answer can only come from the stored response.
    async for key in redis.scan_iter(match="cohort:result:*"):
        await redis.delete(key)
    second = (await _post(cached, token)).json()
    assert second["data"] == first["data"]
    assert second["extensions"]["cache"]["courses"]["hit"] is True
    assert [key async for key in redis.scan_iter(match="cohort:result:*")] == []
    expected = await oracle(
        engine, "select subject, count(*) from courses where partner_id = :p group by 1", p=UNI
    )
    assert {row["subject"]: row["count"] for row in second["data"]["courses"]} == dict(expected)
    assert cached.app.state.cohort.responses.hits == 1  # type: ignore[attr-defined]


async def test_principals_never_read_each_others_answers(
    cached: httpx.AsyncClient, mint: Mint, engine: AsyncEngine
) -> None:
    tokens = {tenant: mint(tenant=tenant, roles=["university_admin"]) for tenant in (UNI, OTHER)}
    for _ in range(2):  # the second round is answered from stored responses
        for tenant, token in tokens.items():
            rows = (await _post(cached, token)).json()["data"]["courses"]
            expected = await oracle(
                engine, "select subject, count(*) from courses where partner_id = :p group by 1", p=tenant
            )
            assert {row["subject"]: row["count"] for row in rows} == dict(expected)
    # the same tenant and subject with other attributes: another scope, another answer
    by_instructor = "{ courses { count } }"
    counts = []
    for instructor in (1, 2):
        token = mint(tenant=UNI, roles=["instructor"], attrs={"instructor_id": instructor})
        for _ in range(2):
            counts.append((await _post(cached, token, by_instructor)).json()["data"]["courses"][0]["count"])
        [(expected,)] = await oracle(
            engine, "select count(*) from courses where instructor_id = :i", i=instructor
        )
        assert counts[-2:] == [expected, expected]


def test_the_key_covers_everything_that_decides_the_answer() -> None:
    identity = Identity("db:5432/warehouse", "abc123", 7, Limits())
    alice = Principal("user:alice", UNI, ("university_admin",), {"instructor_id": 1})

    def locked_to(course: int | str) -> LockedFilter:
        return LockedFilter("courses", "id", "in", (course,))

    scope = EmbedScope("s1", ("overview",), frozenset({"courses"}), (locked_to(3),))
    base = (identity, alice, BY_SUBJECT, {"n": 1}, "Q")
    variants = [
        (replace(identity, namespace="db:5432/staging"), *base[1:]),
        (replace(identity, registry_version="abc124"), *base[1:]),
        (replace(identity, policy_version=8), *base[1:]),
        (replace(identity, limits=Limits(max_depth=3)), *base[1:]),
        (identity, replace(alice, subject="user:bob"), *base[2:]),
        (identity, replace(alice, tenant=OTHER), *base[2:]),
        (identity, replace(alice, roles=("instructor",)), *base[2:]),
        (identity, replace(alice, attributes={"instructor_id": 2}), *base[2:]),
        (identity, replace(alice, attributes={"instructor_id": "1"}), *base[2:]),  # a string is not 1
        (identity, replace(alice, kind="api_token"), *base[2:]),
        (identity, replace(alice, kind="embed", embed=scope), *base[2:]),
        (identity, replace(alice, kind="embed", embed=replace(scope, session="s2")), *base[2:]),
        (identity, replace(alice, kind="embed", embed=replace(scope, locked=(locked_to(4),))), *base[2:]),
        (identity, replace(alice, kind="embed", embed=replace(scope, locked=(locked_to("3"),))), *base[2:]),
        (*base[:2], BY_SUBJECT + " ", *base[3:]),
        (*base[:3], {"n": 2}, "Q"),
        (*base[:3], {"n": 1.5}, "Q"),
        (*base[:4], "R"),
        (*base[:4], None),
    ]
    keys = {response_key(*variant) for variant in variants}
    assert response_key(*base) not in keys and len(keys) == len(variants)
    # the same request is the same key, whatever the order of roles, attributes or variables
    same = replace(alice, roles=("university_admin",), attributes={"instructor_id": 1})
    assert response_key(identity, same, BY_SUBJECT, {"n": 1}, "Q") == response_key(*base)
    assert response_key(*base).startswith(PREFIX + slot_tag(principal_key("user:alice", UNI)) + ":")


async def test_new_data_makes_a_stored_answer_outdated(cached: httpx.AsyncClient, mint: Mint) -> None:
    token = mint(tenant=UNI, roles=["university_admin"])
    await _post(cached, token)
    assert (await _post(cached, token)).json()["extensions"]["cache"]["courses"]["hit"] is True
    freshness = cached.app.state.cohort.caching.freshness  # type: ignore[attr-defined]
    freshness.clock = lambda: time.time() + 3600  # courses refresh every hour: the next period
    later = (await _post(cached, token)).json()
    assert later["extensions"]["cache"]["courses"]["hit"] is False  # ran again, in GraphQL
    assert cached.app.state.cohort.responses.outdated == 1  # type: ignore[attr-defined]
    assert (await _post(cached, token)).json()["extensions"]["cache"]["courses"]["hit"] is True


@pytest.mark.parametrize(
    "query",
    [
        '{ courses(timezone: "Europe") { subject count } }',  # an error
        "{ courses(renew: true) { subject count } }",  # asked fresh
        "{ __typename }",  # reads no model
    ],
)
async def test_only_complete_cacheable_answers_are_stored(
    cached: httpx.AsyncClient, mint: Mint, redis: Redis, query: str
) -> None:
    token = mint(tenant=UNI, roles=["university_admin"], subject="storer")
    first = await _post(cached, token, query)
    second = await _post(cached, token, query)
    assert first.status_code == second.status_code
    assert await _responses(redis, UNI, "user:storer") == []
    assert cached.app.state.cohort.responses.hits == 0  # type: ignore[attr-defined]


async def test_rate_limits_apply_to_stored_answers(
    settings: Settings, database_url: str, mint: Mint, redis: Redis
) -> None:
    keep: list[object] = []
    limited = replace(
        settings, redis_url=redis_url(keep), cache=True, rate_limit_per_minute=1, rate_limit_burst=3
    )
    token = mint(tenant=UNI, roles=["university_admin"], subject=f"limited-{time.time_ns()}")
    async with serving(limited, database_url) as client:
        responses = client.app.state.cohort.responses  # type: ignore[attr-defined]

        async def no_second_call(key: str) -> bytes | None:
            raise AssertionError("the stored answer is read with the rate-limit check, not after it")

        responses.get = no_second_call
        statuses = [(await _post(client, token)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert responses.hits == 2


async def test_each_request_writes_one_structured_log_line(
    cached: httpx.AsyncClient, mint: Mint, caplog: pytest.LogCaptureFixture
) -> None:
    token = mint(tenant=UNI, roles=["university_admin"], subject="logged")
    with caplog.at_level(logging.INFO, logger="cohort.access"):
        await _post(cached, token, "query Tiles " + BY_SUBJECT)
        await _post(cached, token, "query Tiles " + BY_SUBJECT)
        await _post(cached, "not-a-token", BY_SUBJECT)
    lines: list[dict[str, Any]] = [
        json.loads(r.getMessage()) for r in caplog.records if r.name == "cohort.access"
    ]
    assert [(line["status"], line["cache"]) for line in lines] == [
        (200, "miss"),
        (200, "response"),
        (401, ""),
    ]
    assert lines[0]["tenant"] == UNI and lines[0]["subject"] == "user:logged"
    assert lines[0]["operation"] == "Tiles" and lines[0]["ms"] > 0
    assert all(token not in r.getMessage() for r in caplog.records)
