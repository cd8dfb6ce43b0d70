"""The events table's partitions: made for the retention window and ahead, dropped past it
(with the bookkeeping rows of the same age), made on the way when one is missing; and
events written to a database of their own (COHORT_INGEST_DATABASE_URL)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.ingest import tables
from api.ingest.service import asyncpg_dsn
from api.settings import Settings
from tests.api.ingest.test_events_endpoint import post, tenant_name, token_for
from tests.databases import scratch_database
from tests.ingestion import event
from tests.serving import serving

pytestmark = pytest.mark.integration
DAY = date(2026, 3, 10)


@pytest.fixture
async def scratch(database_url: str) -> AsyncIterator[str]:
    async with scratch_database(database_url, "ingest") as url:
        yield url


@pytest.fixture
async def conn(scratch: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(asyncpg_dsn(scratch))
    try:
        yield conn
    finally:
        await conn.close()


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def test_setup_makes_the_window_and_maintenance_moves_it(conn: asyncpg.Connection) -> None:
    await tables.setup(conn, today=DAY, retention_days=3, ahead_days=2)
    await tables.setup(conn, today=DAY, retention_days=3, ahead_days=2)  # idempotent
    assert await tables.partitions(conn) == days(DAY - timedelta(days=2), DAY + timedelta(days=2))
    old = tables.day_start(DAY - timedelta(days=2)) + timedelta(hours=5)
    await conn.execute(
        "insert into cohort_ingest.events (tenant, ingest_seq, event_id, event_type, occurred_at, data)"
        " values ('t', 1, 'old', 'x', $1, '{}'), ('t', 2, 'kept', 'x', $2, '{}')",
        old,
        tables.day_start(DAY) + timedelta(hours=1),
    )
    await conn.execute(
        "insert into cohort_ingest.event_ids (event_key, received_at) values ($1, $2), ($3, $4)",
        tables.event_key("t", "old"),
        old,
        tables.event_key("t", "kept"),
        tables.day_start(DAY),
    )
    done = await tables.maintain(conn, today=DAY + timedelta(days=2), retention_days=3, ahead_days=2)
    assert done is not None
    assert done.dropped == (DAY - timedelta(days=2), DAY - timedelta(days=1))
    assert done.created == (DAY + timedelta(days=3), DAY + timedelta(days=4))
    assert done.deleted_rows == 1
    assert await tables.partitions(conn) == days(DAY, DAY + timedelta(days=4))
    assert [r[0] for r in await conn.fetch("select event_id from cohort_ingest.events")] == ["kept"]
    kept = await conn.fetch("select event_key from cohort_ingest.event_ids")
    assert [bytes(r[0]) for r in kept] == [tables.event_key("t", "kept")]
    again = await tables.maintain(conn, today=DAY + timedelta(days=2), retention_days=3, ahead_days=2)
    assert again == tables.Maintenance((), (), 0)


async def test_one_maintenance_at_a_time(conn: asyncpg.Connection, scratch: str) -> None:
    await tables.setup(conn, today=DAY, retention_days=3, ahead_days=2)
    other = await asyncpg.connect(asyncpg_dsn(scratch))
    try:
        assert await other.fetchval("select pg_try_advisory_lock($1)", tables._MAINTENANCE_LOCK)
        assert (
            await tables.maintain(conn, today=DAY + timedelta(days=9), retention_days=3, ahead_days=2) is None
        )
    finally:
        await other.close()
    assert await tables.partitions(conn) == days(DAY - timedelta(days=2), DAY + timedelta(days=2))


async def test_events_go_to_their_own_database_and_missing_partitions_are_made(
    settings: Settings,
    database_url: str,
    engine: AsyncEngine,
    scratch: str,
    conn: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Tokens and policy from the warehouse's database, events into COHORT_INGEST_DATABASE_URL;
    today's partition dropped behind Cohort's back is made again by the commit that needs it.
    Before `cohort ingest setup`, a clear refusal and one warning, never a traceback."""
    tenant = tenant_name()
    token = await token_for(engine, tenant)
    with caplog.at_level(logging.WARNING, logger="cohort.ingest"):
        async with serving(settings, database_url, ingest_database_url=scratch) as client:
            not_yet = await post(client, token, [event("e1")], key="k1")
            assert not_yet.status_code == 503, not_yet.text
            assert not_yet.json()["errors"][0]["extensions"]["code"] == "INGESTION_NOT_SET_UP"
    logged = [r for r in caplog.records if r.name.startswith("cohort.ingest")]
    assert logged and all(r.levelno == logging.WARNING and r.exc_info is None for r in logged), logged
    async with serving(settings, database_url, ingest_database_url=scratch) as client:
        today = datetime.now(UTC).date()
        await tables.setup(conn, today=today, retention_days=30, ahead_days=3)
        await conn.execute(f"drop table cohort_ingest.{tables.partition_name(today)}")
        response = await post(client, token, [event("e1"), event("e2")], key="k1")
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 2
    assert today in await tables.partitions(conn)
    rows = await conn.fetch("select event_id from cohort_ingest.events where tenant = $1 order by 1", tenant)
    assert [r[0] for r in rows] == ["e1", "e2"]
    async with engine.connect() as warehouse:
        raw = await warehouse.get_raw_connection()
        here = await raw.driver_connection.fetchval(
            "select count(*) from cohort_ingest.events where tenant = $1", tenant
        )
    assert here == 0
