"""Crashes in the middle of a stream of batches: the server SIGKILLed (a real uvicorn process),
and PostgreSQL restarted in immediate mode (no shutdown checkpoint: crash recovery from the
WAL), while a client streams batches. Every batch that was not acknowledged is then sent
again with its Idempotency-Key until it is: every acknowledged event is in the table exactly
once, and so is every event of every batch in the end.

The system PostgreSQL is never restarted: the restart test runs its own server (pgserver)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from api.auth.api_tokens import ApiTokenStore
from api.ingest.service import asyncpg_dsn
from api.migrations import upgrade
from api.settings import Settings
from authz.policy_store import PolicyStore
from tests.api.test_uvicorn import server_env, start, stop, wait_until_healthy
from tests.databases import free_port
from tests.faults import PrivatePostgres, private_postgres
from tests.ingestion import event, setup_ingestion
from tests.serving import serving

pytestmark = pytest.mark.integration

BATCHES = 120
EVENTS_PER_BATCH = 100
CONCURRENCY = 6
REQUEST_S = 10.0


@dataclass
class Stream:
    """Batches of distinct events, their acknowledgments, and what is left to send."""

    tenant: str
    batches: dict[str, bytes] = field(default_factory=dict)
    event_ids: dict[str, list[str]] = field(default_factory=dict)
    acked: dict[str, bytes] = field(default_factory=dict)  # key -> the answer's body
    fault_after: int = BATCHES  # acknowledgments after which `fault_due` is set
    fault_due: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def make(cls, tenant: str) -> Stream:
        stream = cls(tenant)
        for n in range(BATCHES):
            key = f"batch-{n}"
            events = [event(f"{key}-{i}", learner_id=f"L{i % 37}") for i in range(EVENTS_PER_BATCH)]
            stream.batches[key] = orjson.dumps(events)
            stream.event_ids[key] = [e["id"] for e in events]
        return stream

    @property
    def unacked(self) -> list[str]:
        return [key for key in self.batches if key not in self.acked]


async def send(client: httpx.AsyncClient, token: str, stream: Stream, keys: list[str]) -> None:
    """Each batch once, CONCURRENCY at a time; a 200 is an acknowledgment, anything else
    (503, a dropped connection, a refused one) is not."""
    queue = list(keys)

    async def worker() -> None:
        while queue:
            key = queue.pop(0)
            headers = {"authorization": f"Bearer {token}", "idempotency-key": key}
            with contextlib.suppress(httpx.TransportError, TimeoutError):
                async with asyncio.timeout(REQUEST_S):
                    response = await client.post("/events", content=stream.batches[key], headers=headers)
                if response.status_code == 200:
                    stream.acked[key] = response.content
                    if len(stream.acked) >= stream.fault_after:
                        stream.fault_due.set()
                else:
                    assert response.status_code == 503, response.text  # never a 500
                    assert "retry-after" in response.headers

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def replay_until_acked(client: httpx.AsyncClient, token: str, stream: Stream, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while stream.unacked and time.monotonic() < deadline:
        await send(client, token, stream, stream.unacked)
        if stream.unacked:
            await asyncio.sleep(0.3)
    assert stream.unacked == []


async def assert_exactly_once(dsn: str, stream: Stream, acked_first: dict[str, bytes]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "select event_id, count(*) from cohort_ingest.events where tenant = $1 group by 1", stream.tenant
        )
    finally:
        await conn.close()
    counts = {row[0]: row[1] for row in rows}
    for key in acked_first:  # what was acknowledged before the crash
        assert all(counts.get(event_id) == 1 for event_id in stream.event_ids[key]), key
    everything = [event_id for ids in stream.event_ids.values() for event_id in ids]
    assert counts == dict.fromkeys(everything, 1)
    # The answers add up: each event was accepted by exactly one batch's first commit.
    assert sum(orjson.loads(body)["accepted"] for body in stream.acked.values()) == len(everything)
    for key, body in acked_first.items():
        assert stream.acked[key] == body  # a replay of an acknowledged batch: its first answer


async def stream_with_a_fault(
    client: httpx.AsyncClient, token: str, stream: Stream, fault: Callable[[], Any], after_acks: int
) -> dict[str, bytes]:
    """Send every batch; once `after_acks` are acknowledged, run `fault` (while others are
    in flight). Returns what was acknowledged before the fault."""
    before: dict[str, bytes] = {}
    stream.fault_after = after_acks

    async def trigger() -> None:
        await stream.fault_due.wait()
        before.update(stream.acked)
        result = fault()
        if asyncio.iscoroutine(result):
            await result

    trigger_task = asyncio.create_task(trigger())
    await send(client, token, stream, list(stream.batches))
    async with asyncio.timeout(30):
        await trigger_task
    return before


async def test_a_killed_server_loses_no_acknowledged_event(
    database_url: str, tmp_path: Path, settings: Settings
) -> None:
    tenant = f"lms-{uuid.uuid4().hex[:8]}"
    engine = create_async_engine(database_url)
    try:
        token, _ = await ApiTokenStore(engine).create("stream", tenant, ["event_source"])
    finally:
        await engine.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = server_env(
        DATABASE_URL=database_url,
        COHORT_RELOAD_INTERVAL_MS="0",
        COHORT_JWT_SECRET=settings.auth.jwt_secret or "",
        COHORT_DATA_DIR=str(settings.data_dir),
        COHORT_ACCESS_LOG="false",
    )
    stream = Stream.make(tenant)
    log = tmp_path / "uvicorn.log"
    process = start(port, env, log)
    try:
        await wait_until_healthy(base, process, log)
        async with httpx.AsyncClient(base_url=base, timeout=REQUEST_S) as client:
            acked_before = await stream_with_a_fault(
                client, token, stream, lambda: process.send_signal(signal.SIGKILL), after_acks=BATCHES // 4
            )
            process.wait(timeout=10)
            assert process.returncode == -signal.SIGKILL
            assert stream.unacked, "the kill came too late to interrupt the stream"
            process = start(port, env, tmp_path / "uvicorn-restarted.log")
            await wait_until_healthy(base, process, tmp_path / "uvicorn-restarted.log")
            for key in list(acked_before)[:10]:  # replays of acknowledged batches add nothing
                del stream.acked[key]
            await replay_until_acked(client, token, stream, within_s=20)
    finally:
        stop(process)
    await assert_exactly_once(asyncpg_dsn(database_url), stream, acked_before)


def restart_immediately(server: PrivatePostgres) -> None:
    """`pg_ctl restart -m immediate`: the server stops without a checkpoint, as in a crash,
    and recovers from the WAL when it starts again (with the options it had)."""
    from pgserver._commands import pg_ctl

    pg_ctl(
        ["-w", "-m", "immediate", "-l", str(server.folder / "log"), "restart"],
        pgdata=server.folder,
        user=server.server.system_user,
        timeout=30,
    )


@contextlib.contextmanager
def restartable_postgres() -> Any:
    with private_postgres() as server:
        try:
            yield server
        finally:
            from pgserver._commands import pg_ctl

            # The server was restarted: pgserver's own clean-up knows only the first postmaster.
            with contextlib.suppress(Exception):
                pg_ctl(
                    ["-w", "-m", "fast", "stop"],
                    pgdata=server.folder,
                    user=server.server.system_user,
                    timeout=30,
                )


async def test_a_postgres_restart_loses_no_acknowledged_event(settings: Settings) -> None:
    tenant = f"lms-{uuid.uuid4().hex[:8]}"
    with private_postgres() as server:
        engine = create_async_engine(server.url)
        try:
            await upgrade(engine)
            await PolicyStore(engine).seed()
            token, _ = await ApiTokenStore(engine).create("stream", tenant, ["event_source"])
        finally:
            await engine.dispose()
        await setup_ingestion(server.url)
        short = replace(
            settings,
            db_connect_timeout_ms=1_000,
            ingest=replace(settings.ingest, commit_timeout_ms=2_000, queue_timeout_ms=2_000),
        )
        stream = Stream.make(tenant)
        async with serving(short, server.url) as client:
            acked_before = await stream_with_a_fault(
                client,
                token,
                stream,
                lambda: asyncio.to_thread(restart_immediately, server),
                after_acks=BATCHES // 4,
            )
            assert stream.unacked, "the restart came too late to interrupt the stream"
            await replay_until_acked(client, token, stream, within_s=20)
        await assert_exactly_once(asyncpg_dsn(server.url), stream, acked_before)
