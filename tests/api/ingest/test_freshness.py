"""Events posted to /events read back through GraphQL (the activity_events model), scoped to
the reader's tenant, and new ones seen within the model's refresh rule (a check every second
of the ingest watermark)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from tests.api.ingest.test_events_endpoint import post, token_for
from tests.databases import redis_url
from tests.ingestion import event
from tests.serving import serving
from tests.tokens import Mint

pytestmark = pytest.mark.integration

QUERY = "{ activityEvents(orderBy: [{eventType: ASC}]) { eventType count learners lastSequence } }"
TOTAL = "{ activityEvents { count learners minutesSpent } }"


async def graphql(client: httpx.AsyncClient, jwt: str, query: str) -> Any:
    response = await client.post(
        "/graphql", json={"query": query}, headers={"authorization": f"Bearer {jwt}"}
    )
    assert response.status_code == 200, response.text
    payload = response.json()
    assert "errors" not in payload, payload
    return payload["data"]["activityEvents"]


@pytest.fixture
async def cached(settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the result cache and the response cache on (Redis)."""
    keep: list[object] = []
    async with serving(replace(settings, redis_url=redis_url(keep), cache=True), database_url) as client:
        yield client


async def test_posted_events_are_read_back_through_graphql_within_seconds(
    cached: httpx.AsyncClient, engine: AsyncEngine, mint: Mint
) -> None:
    """With the caches on: a repeated query is a cache hit until the watermark moves."""
    client = cached
    tenant, other = (f"uni-{uuid.uuid4().hex[:8]}" for _ in range(2))
    token, other_token = await token_for(engine, tenant), await token_for(engine, other)
    reader = mint(tenant=tenant, roles=["university_admin"])
    first = [event(f"m{i}", learner_id=f"L{i}", minutes_spent=i) for i in range(6)]
    first += [event(f"s{i}", "module_started", learner_id=f"L{i}") for i in range(6)]
    assert (await post(client, token, first, key="first")).json()["accepted"] == 12
    # Another tenant's events are never in this tenant's numbers.
    noise = [event(f"n{i}", learner_id=f"N{i}") for i in range(20)]
    assert (await post(client, other_token, noise, key="noise")).json()["accepted"] == 20

    rows = await graphql(client, reader, QUERY)
    async with engine.connect() as conn:
        want = (
            await conn.execute(
                text(
                    "select event_type, count(*), count(distinct data ->> 'learner_id'), max(ingest_seq) "
                    "from cohort_ingest.events where tenant = :t group by 1 order by 1"
                ),
                {"t": tenant},
            )
        ).all()
    assert [(r["eventType"], r["count"], r["learners"], r["lastSequence"]) for r in rows] == [
        tuple(row) for row in want
    ]
    assert await graphql(client, reader, TOTAL) == [{"count": 12, "learners": 6, "minutesSpent": 15}]
    again = await client.post(
        "/graphql", json={"query": TOTAL}, headers={"authorization": f"Bearer {reader}"}
    )
    assert again.json()["extensions"]["cache"]["activityEvents"]["hit"] is True

    more = [event(f"m{i}", learner_id=f"L{i}", minutes_spent=1) for i in range(6, 10)]
    posted = time.monotonic()
    assert (await post(client, token, more, key="second")).json()["accepted"] == 4
    for _ in range(50):  # the refresh rule checks the watermark every second: 5 s is far above it
        totals = await graphql(client, reader, TOTAL)
        if totals[0]["count"] == 16:
            break
        await asyncio.sleep(0.1)
    seen_after = time.monotonic() - posted
    assert totals == [{"count": 16, "learners": 10, "minutesSpent": 19}]
    assert seen_after < 3.0, seen_after


async def test_a_partner_token_reads_only_its_own_tenants_events(
    client: httpx.AsyncClient, engine: AsyncEngine, mint: Mint
) -> None:
    tenant = f"uni-{uuid.uuid4().hex[:8]}"
    events = [event(f"p{i}", learner_id=f"L{i}") for i in range(12)]
    assert (await post(client, await token_for(engine, tenant), events, key="k")).json()["accepted"] == 12
    partner = await token_for(engine, tenant, "partner_integration")  # k = 10 distinct learners
    assert await graphql(client, partner, "{ activityEvents { count } }") == [{"count": 12}]
    stranger = mint(tenant=f"uni-{uuid.uuid4().hex[:8]}", roles=["university_admin"])
    assert (
        await graphql(client, stranger, "{ activityEvents { count } }") == []
    )  # none: suppressed group of 0
