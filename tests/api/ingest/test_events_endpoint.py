"""POST /events on the session's app and database: what is written, what is answered, and
what is refused. Every check reads the tables back with hand-written SQL."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth.api_tokens import ApiTokenStore
from api.settings import Settings
from tests.ingestion import body, event
from tests.serving import serving
from tests.tokens import Mint

pytestmark = pytest.mark.integration


def tenant_name() -> str:
    return f"lms-{uuid.uuid4().hex[:10]}"


async def token_for(engine: AsyncEngine, tenant: str, role: str = "event_source") -> str:
    token, _ = await ApiTokenStore(engine).create("activity stream", tenant, [role])
    return token


async def post(
    client: httpx.AsyncClient,
    token: str,
    payload: bytes | list[dict[str, Any]],
    key: str | None = None,
    content_type: str = "application/json",
    **headers: str,
) -> httpx.Response:
    content = payload if isinstance(payload, bytes) else body(payload)
    sent = {"authorization": f"Bearer {token}", "content-type": content_type, **headers}
    if key is not None:
        sent["idempotency-key"] = key
    return await client.post("/events", content=content, headers=sent)


async def stored(engine: AsyncEngine, tenant: str) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "select event_id, event_type, occurred_at, data, ingest_seq from cohort_ingest.events "
                "where tenant = :t order by ingest_seq"
            ),
            {"t": tenant},
        )
        return list(rows)


async def failed(engine: AsyncEngine, tenant: str) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "select idempotency_key, event_index, event_id, event_type, reason, payload "
                "from cohort_ingest.failed_events where tenant = :t order by id"
            ),
            {"t": tenant},
        )
        return list(rows)


@pytest.fixture
async def tenant() -> str:
    return tenant_name()


@pytest.fixture
async def token(engine: AsyncEngine, tenant: str) -> str:
    return await token_for(engine, tenant)


async def test_a_batch_is_committed_then_answered(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: str, token: str
) -> None:
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    events = [
        event("e1", "module_completed", when, learner_id="L7", minutes_spent=30),
        event("e2", "module_started", when + timedelta(minutes=1)),
        event("e3", "assessment_submitted", when.astimezone(UTC).isoformat().replace("+00:00", "+05:30")),
    ]
    response = await post(client, token, events, key="batch-1")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "idempotency_key": "batch-1",
        "events": 3,
        "accepted": 3,
        "duplicates": 0,
        "rejected": 0,
        "duplicate_events": [],
        "rejected_events": [],
    }
    assert "idempotent-replayed" not in response.headers
    rows = await stored(engine, tenant)
    assert [(r.event_id, r.event_type) for r in rows] == [
        ("e1", "module_completed"),
        ("e2", "module_started"),
        ("e3", "assessment_submitted"),
    ]
    assert rows[0].occurred_at == when
    assert rows[2].occurred_at == when - timedelta(hours=5, minutes=30)  # the offset is kept in the instant
    assert rows[0].data == {"learner_id": "L7", "course_id": 1, "module_id": 1, "minutes_spent": 30}
    seqs = [r.ingest_seq for r in rows]
    assert seqs == list(range(seqs[0], seqs[0] + 3))  # consecutive within a batch
    async with engine.connect() as conn:
        last_seq = (await conn.execute(text("select last_seq from cohort_ingest.state"))).scalar_one()
        batch = (
            await conn.execute(
                text(
                    "select events, accepted, duplicates, rejected, first_seq, last_seq, response "
                    "from cohort_ingest.batches where tenant = :t and idempotency_key = 'batch-1'"
                ),
                {"t": tenant},
            )
        ).one()
    assert last_seq >= seqs[-1]
    assert tuple(batch[:6]) == (3, 3, 0, 0, seqs[0], seqs[-1])
    assert bytes(batch.response) == response.content


async def test_the_tenant_is_the_tokens_and_ids_are_per_tenant(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    first, second = tenant_name(), tenant_name()
    for tenant in (first, second):
        response = await post(client, await token_for(engine, tenant), [event("shared-id")], key="k")
        assert response.status_code == 200 and response.json()["accepted"] == 1, response.text
    assert [r.event_id for r in await stored(engine, first)] == ["shared-id"]
    assert [r.event_id for r in await stored(engine, second)] == ["shared-id"]
    # A tenant in the payload is not a field of any event type: the event is rejected.
    response = await post(client, await token_for(engine, first), [event("e9", tenant=second)], key="k2")
    assert response.json()["rejected_events"] == [
        {
            "index": 0,
            "id": "e9",
            "type": "module_completed",
            "reason": "Object contains unknown field `tenant`",
        }
    ]
    assert [r.event_id for r in await stored(engine, second)] == ["shared-id"]


async def test_a_retried_batch_gets_its_first_answer_and_adds_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: str, token: str
) -> None:
    events = [event(f"r{i}") for i in range(5)] + [{"id": "bad", "type": "module_completed"}]
    first = await post(client, token, events, key="retry-me")
    assert first.status_code == 200 and first.json()["accepted"] == 5 and first.json()["rejected"] == 1
    rows_before, failed_before = await stored(engine, tenant), await failed(engine, tenant)
    for _ in range(2):
        again = await post(client, token, events, key="retry-me")
        assert again.status_code == 200
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
    assert await stored(engine, tenant) == rows_before
    assert await failed(engine, tenant) == failed_before  # the rejected event is not stored twice either
    other = await post(client, token, [event("r0"), event("new")], key="retry-me")
    assert other.status_code == 422, other.text
    assert other.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await stored(engine, tenant) == rows_before


async def test_event_ids_seen_before_are_not_inserted_twice(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: str, token: str
) -> None:
    assert (await post(client, token, [event("a"), event("b")], key="one")).json()["accepted"] == 2
    # Another batch (another key) repeating "b", and "c" twice within itself.
    response = await post(client, token, [event("b"), event("c"), event("c"), event("d")], key="two")
    answer = response.json()
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (2, 2, 0)
    assert answer["duplicate_events"] == [{"index": 0, "id": "b"}, {"index": 2, "id": "c"}]
    async with engine.connect() as conn:
        counts = dict(
            (
                await conn.execute(
                    text("select event_id, count(*) from cohort_ingest.events where tenant = :t group by 1"),
                    {"t": tenant},
                )
            ).all()
        )
    assert counts == {"a": 1, "b": 1, "c": 1, "d": 1}


async def test_invalid_events_are_kept_with_their_reason_and_raw_payload(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: str, token: str
) -> None:
    now = datetime.now(UTC)
    lines = [
        orjson.dumps(event("ok-1")),
        b'{"id": "wrong-type", "type": "module_completed", "occurred_at": "%s", "learner_id": "L1",'
        b' "course_id": "one", "module_id": 1}' % now.isoformat().encode(),
        orjson.dumps({"id": "no-type", "occurred_at": now.isoformat()}),
        orjson.dumps(event("unknown-type") | {"type": "page_viewed"}),
        orjson.dumps({k: v for k, v in event("missing").items() if k != "learner_id"}),
        orjson.dumps(event("naive", occurred_at="2026-01-01T00:00:00")),
        orjson.dumps(event("too-old", occurred_at=now - timedelta(days=40))),
        orjson.dumps(event("future", occurred_at=now + timedelta(days=2))),
        orjson.dumps(event("low", minutes_spent=-1)),
        b"{not json",
        b"",  # blank lines are skipped
        orjson.dumps(event("ok-2", "assessment_submitted", device="ios")),
        orjson.dumps(event("bad-enum", "assessment_submitted", device="tv")),
        orjson.dumps(event("x" * 129)),
        orjson.dumps(event("nul", learner_id="a\u0000b")),
    ]
    response = await post(
        client, token, b"\n".join(lines) + b"\n", key="mixed", content_type="application/x-ndjson"
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["events"], answer["accepted"], answer["rejected"]) == (14, 2, 12)
    reasons = {item["index"]: item["reason"] for item in answer["rejected_events"]}
    assert reasons == {
        1: "Expected `int`, got `str` - at `$.course_id`",
        2: "Object missing required field `type`",
        3: "unknown event type: Invalid value 'page_viewed' - at `$.type`",
        4: "Object missing required field `learner_id`",
        5: "Expected `datetime` with a timezone component - at `$.occurred_at`",
        6: reasons[6],
        7: "occurred_at is more than 24 hours ahead of the server's clock",
        8: "Expected `int` >= 0 - at `$.minutes_spent`",
        9: reasons[9],
        11: "Invalid enum value 'tv' - at `$.device`",
        12: "Expected `str` of length <= 128 - at `$.id`",
        13: "strings may not contain the NUL character (\\u0000)",
    }
    assert reasons[6].startswith("occurred_at is before the retention window, which starts on ")
    assert reasons[9].startswith("not valid JSON: ")
    assert [r.event_id for r in await stored(engine, tenant)] == ["ok-1", "ok-2"]
    kept = await failed(engine, tenant)
    non_blank = [line for line in lines if line]
    assert [(r.event_index, r.reason) for r in kept] == sorted(reasons.items())
    assert all(bytes(r.payload) == non_blank[r.event_index] for r in kept)  # the raw bytes, as sent
    assert {r.idempotency_key for r in kept} == {"mixed"}
    assert kept[0].event_id == "wrong-type" and kept[0].event_type == "module_completed"
    assert kept[-1].event_id == "nul"


async def test_who_may_ingest_is_the_policys_decision(
    client: httpx.AsyncClient, engine: AsyncEngine, mint: Mint, tenant: str
) -> None:
    batch = [event()]
    partner = await token_for(engine, tenant, "partner_integration")
    refused = await post(client, partner, batch, key="k")
    assert refused.status_code == 403, refused.text
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # JWT callers do not ingest unless the policy names events/jwt: not even the role that may.
    for roles in (["platform_admin"], ["event_source"]):
        jwt = mint(tenant=tenant, roles=roles)
        assert (await post(client, jwt, batch, key="k")).status_code == 403
    missing = await client.post("/events", content=body(batch), headers={"authorization": ""})
    assert missing.status_code == 401 and "www-authenticate" in missing.headers
    wrong = await post(client, "cohort_" + "A" * 40, batch, key="k")
    assert wrong.status_code == 401
    assert await stored(engine, tenant) == []


@pytest.mark.parametrize(
    ("payload", "headers", "status", "message"),
    [
        (body([event()]), {}, 400, "send an Idempotency-Key header"),
        (body([event()]), {"idempotency-key": "has space"}, 400, "visible ASCII"),
        (body([event()]), {"idempotency-key": "k" * 201}, 400, "1 to 200"),
        (b'{"id": "e1"}', {"idempotency-key": "k"}, 400, "a JSON array of events"),
        (b"[1, 2", {"idempotency-key": "k"}, 400, "a JSON array of events"),
        (b"[]", {"idempotency-key": "k"}, 400, "holds no events"),
        (body([event()]), {"idempotency-key": "k", "content-type": "text/plain"}, 415, "application/json"),
    ],
)
async def test_malformed_requests_are_refused_whole(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    tenant: str,
    token: str,
    payload: bytes,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    sent = {"authorization": f"Bearer {token}", "content-type": "application/json", **headers}
    response = await client.post("/events", content=payload, headers=sent)
    assert response.status_code == status, response.text
    assert message in response.json()["errors"][0]["message"]
    assert await stored(engine, tenant) == [] and await failed(engine, tenant) == []


async def test_size_limits(
    settings: Settings, database_url: str, engine: AsyncEngine, tenant: str, token: str
) -> None:
    limited = replace(settings, ingest=replace(settings.ingest, max_batch_events=3, max_body_bytes=2_000))
    async with serving(limited, database_url) as client:
        many = await post(client, token, [event() for _ in range(4)], key="many")
        assert many.status_code == 413 and "at most 3 events" in many.text
        large = await post(client, token, [event(learner_id="x" * 60) for _ in range(3)] * 1, key="large")
        assert large.status_code == 200  # within both limits
        huge = await post(client, token, b"[" + b" " * 2_100 + b"]", key="huge")
        assert huge.status_code == 413 and "larger than 2000 bytes" in huge.text
    assert len(await stored(engine, tenant)) == 3


async def test_concurrent_retries_of_one_key_write_once(
    settings: Settings, database_url: str, engine: AsyncEngine, tenant: str, token: str
) -> None:
    """The same batch sent at once, several times, to two servers (two committers, as two
    worker processes would have): one write, one answer for all."""
    events = [event(f"c{i}") for i in range(200)]
    async with serving(settings, database_url) as one, serving(settings, database_url) as two:
        answers = await asyncio.gather(*(post(c, token, events, key="same") for c in (one, two) * 4))
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert answers[0].json()["accepted"] == 200
    assert sum(a.headers.get("idempotent-replayed") != "true" for a in answers) == 1
    assert len(await stored(engine, tenant)) == 200


async def test_concurrent_batches_are_grouped_into_few_commits(
    client: httpx.AsyncClient, engine: AsyncEngine, tenant: str, token: str
) -> None:
    committer = client._transport.app.state.ingestion.committer  # type: ignore[attr-defined]
    commits_before = committer.stats.commits
    batches = [[event(f"g{b}-{i}") for i in range(50)] for b in range(40)]
    answers = await asyncio.gather(
        *(post(client, token, events, key=f"g{b}") for b, events in enumerate(batches))
    )
    assert all(a.status_code == 200 and a.json()["accepted"] == 50 for a in answers)
    assert len(await stored(engine, tenant)) == 2_000
    assert committer.stats.commits - commits_before < 40
