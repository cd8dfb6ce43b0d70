"""Overload and database faults on the way to a commit: every batch is answered within its
time limits (503 with Retry-After, never a hang), none is half written, and the retries
that follow, with the same Idempotency-Keys, leave every event in the table exactly once.

The ingest database is reached through a TCP proxy that freezes (nothing forwarded, as
with a stopped server) or goes down; tokens and policy come from the warehouse directly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from tests.api.ingest.test_events_endpoint import post, tenant_name, token_for
from tests.faults import PausableProxy, pausable_proxy
from tests.ingestion import event
from tests.serving import serving

pytestmark = pytest.mark.integration
DEADLINE_S = 8.0  # far above the limits below: reaching it means a hang


def limited(settings: Settings) -> Settings:
    return replace(
        settings,
        db_connect_timeout_ms=500,
        ingest=replace(
            settings.ingest,
            max_batch_events=100,
            max_pending_events=300,
            queue_timeout_ms=500,
            commit_timeout_ms=1_000,
            maintenance_interval_s=0,
        ),
    )


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[PausableProxy]:
    async with pausable_proxy(database_url) as proxy:
        yield proxy


@pytest.fixture
async def client(
    settings: Settings, database_url: str, proxy: PausableProxy
) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(
        limited(settings), database_url, ingest_database_url=proxy.url(database_url)
    ) as client:
        yield client


async def answer(client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    async with asyncio.timeout(DEADLINE_S):
        response = await post(client, *args, **kwargs)
    return response, time.monotonic() - started


async def counts(engine: AsyncEngine, tenant: str) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("select event_id, count(*) from cohort_ingest.events where tenant = :t group by 1"),
            {"t": tenant},
        )
        return {row[0]: row[1] for row in rows}


def unavailable(response: httpx.Response) -> str:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) >= 1
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


async def test_a_frozen_database_overloads_nothing_and_loses_nothing(
    client: httpx.AsyncClient, proxy: PausableProxy, engine: AsyncEngine
) -> None:
    tenant = tenant_name()
    token = await token_for(engine, tenant)
    batches = {f"b{n}": [event(f"b{n}-{i}") for i in range(100)] for n in range(6)}
    warm, _ = await answer(client, token, batches["b0"], key="b0")
    assert warm.status_code == 200 and warm.json()["accepted"] == 100
    proxy.freeze()
    first = asyncio.create_task(answer(client, token, batches["b1"], key="b1"))  # taken into a commit
    await asyncio.sleep(0.05)
    rest = await asyncio.gather(
        *(answer(client, token, batches[key], key=key) for key in ("b2", "b3", "b4", "b5"))
    )
    stuck, stuck_s = await first
    assert unavailable(stuck) == "SERVICE_UNAVAILABLE"
    assert stuck_s < 3.0  # the commit timeout (1 s) and little more
    codes = [unavailable(response) for response, _ in rest]
    assert codes == ["OVERLOADED"] * 4  # three waited 0.5 s for a place; one found 300 events waiting
    assert min(seconds for _, seconds in rest) < 0.3  # the one beyond the limit is refused at once
    proxy.resume()
    # Every batch that got no 200 is sent again; b1's commit may have gone through before its
    # connection was dropped: then its retry gets the stored answer.
    for key in ("b1", "b2", "b3", "b4", "b5"):
        for _ in range(20):
            retry, _ = await answer(client, token, batches[key], key=key)
            if retry.status_code == 200:
                break
            await asyncio.sleep(0.2)
        assert retry.status_code == 200, retry.text
        assert retry.json()["events"] == 100
    assert await counts(engine, tenant) == {e["id"]: 1 for events in batches.values() for e in events}


async def test_a_database_down_is_503_at_once_then_recovers(
    client: httpx.AsyncClient, proxy: PausableProxy, engine: AsyncEngine
) -> None:
    tenant = tenant_name()
    token = await token_for(engine, tenant)
    assert (await answer(client, token, [event("d0")], key="d0"))[0].status_code == 200
    await proxy.down()
    for key in ("d1", "d2"):  # the second meets a pool whose connections were dropped
        response, seconds = await answer(client, token, [event(key)], key=key)
        assert unavailable(response) == "SERVICE_UNAVAILABLE"
        assert seconds < 3.0
    await proxy.up()
    for key in ("d1", "d2"):
        response, _ = await answer(client, token, [event(key)], key=key)
        assert response.status_code == 200, response.text
    assert await counts(engine, tenant) == {"d0": 1, "d1": 1, "d2": 1}
