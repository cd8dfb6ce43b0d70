"""Sustained, acknowledged ingestion: POST /events on a real uvicorn server on 127.0.0.1, driven
by an asyncio client (httpx, one connection per concurrent sender).

    .venv/bin/python -m bench.ingest_load [--duration 8] [--batches 100,500,1000,2000]
                                          [--concurrency 2,4,8,16] [--workers 1]
                                          [--rollup-refresh 1]

For each batch size x concurrency: `concurrency` senders post distinct batches back to back
for `duration` seconds; an event counts when its batch's 200 has arrived (the answer is
sent after a synchronous commit). Reported: acknowledged events/s, p50/p99 acknowledgment
latency (request sent to answer read), commits and events per commit (from /metrics).

The floor, measured in the same run: the same rows (already built as tuples) copied into
`cohort_ingest.events` by one asyncpg connection, with `copy_records_to_table`, 5,000 rows
per synchronous commit: what PostgreSQL takes on this machine without HTTP, validation,
deduplication or bookkeeping.

With `--rollup-refresh S`, a refresh worker runs beside the senders, as `cohort rollups
refresh --every S` would: the activity_events rollups are merged from the ingest watermark
every S seconds. Reported per run: the refreshes, their duration, how many acknowledged
events were not yet merged when each began (the tail an answer reads raw), and at the end
whether the rollup's count of the run's tenant equals the raw table's.

The database is DATABASE_URL when set, else `cohort_ingest_bench` on 127.0.0.1:5432
(created, migrated, policy seeded and ingestion set up when missing). All traffic goes to
127.0.0.1; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import orjson
from sqlalchemy.ext.asyncio import create_async_engine

from bench.cache_load import ensure_database, serve, server_env
from resolvers.rollups.layout import Layout

BENCH_DATABASE = "postgresql://postgres@127.0.0.1:5432/cohort_ingest_bench"
FLOOR_ROWS = 200_000
FLOOR_COMMIT_ROWS = 5_000


async def prepare_database(url: str) -> str:
    """Create, migrate, seed the policy and set up ingestion where missing; an event_source
    token for a new tenant."""
    from api.auth.api_tokens import ApiTokenStore
    from api.ingest import tables
    from api.ingest.service import asyncpg_dsn
    from api.migrations import upgrade
    from api.rollups import tables as rollup_tables
    from authz.policy_store import PolicyStore

    target = await ensure_database(url)
    engine = create_async_engine(target)
    try:
        await upgrade(engine)
        await PolicyStore(engine).seed()
        token, _ = await ApiTokenStore(engine).create(
            "bench", f"bench-{uuid.uuid4().hex[:8]}", ["event_source"]
        )
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(asyncpg_dsn(str(target.render_as_string(hide_password=False))))
    try:
        await tables.setup(conn, today=datetime.now(UTC).date(), retention_days=30, ahead_days=3)
        await rollup_tables.setup(conn)
    finally:
        await conn.close()
    return token


def events(prefix: str, count: int) -> list[dict[str, object]]:
    now = datetime.now(UTC).isoformat()
    return [
        {
            "id": f"{prefix}-{n}",
            "type": "module_completed",
            "occurred_at": now,
            "learner_id": f"L{n % 5000}",
            "course_id": 1 + n % 300,
            "module_id": 1 + n % 12,
            "minutes_spent": n % 90,
        }
        for n in range(count)
    ]


@dataclass
class Result:
    batch: int
    concurrency: int
    events_per_s: float
    p50_ms: float
    p99_ms: float
    commits: float
    refused: int


async def drive(
    base: str, token: str, batch: int, concurrency: int, duration_s: float
) -> tuple[int, list[float], int]:
    run = uuid.uuid4().hex[:8]
    template = events("x", batch)
    acked = 0
    refused = 0
    latencies: list[float] = []
    deadline = time.monotonic() + duration_s

    async def sender(n: int) -> None:
        nonlocal acked, refused
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
            sequence = 0
            while time.monotonic() < deadline:
                key = f"{run}-{n}-{sequence}"
                sequence += 1
                for i, item in enumerate(template):
                    item["id"] = f"{key}-{i}"
                body = orjson.dumps(template)
                started = time.perf_counter()
                response = await client.post(
                    "/events", content=body, headers={**headers, "idempotency-key": key}
                )
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                    acked += batch
                elif response.status_code == 503:
                    refused += 1
                    await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                else:
                    raise SystemExit(f"unexpected answer {response.status_code}: {response.text[:500]}")

    await asyncio.gather(*(sender(n) for n in range(concurrency)))
    return acked, latencies, refused


@dataclass
class Refreshing:
    """The refresh worker's record over one run."""

    seconds: list[float]
    behind: list[int]


def activity_rollups() -> list[Layout]:
    from resolvers.rollups.layout import layouts
    from schema.validator import load_registry

    registry = load_registry(Path("schema/models"))
    return [layout for layout in layouts(registry.models) if layout.model.model == "activity_events"]


async def refresh_worker(dsn: str, found: list[Layout], every_s: float, stop: asyncio.Event) -> Refreshing:
    """Refresh the activity_events rollups every `every_s` until `stop`, then once more."""
    from api.rollups import refresh

    record = Refreshing([], [])
    conn = await asyncpg.connect(dsn, server_settings={"statement_timeout": "0"})
    try:
        while True:
            final = stop.is_set()
            head = int(await conn.fetchval("select last_seq from cohort_ingest.state"))
            marks = [row[0] for row in await conn.fetch("select watermark from cohort_rollups.state")]
            record.behind.append(head - min(marks, default=0))
            began = time.perf_counter()
            for layout in found:
                await refresh.refresh(conn, layout, rebuild_every_s=1e9)
            record.seconds.append(time.perf_counter() - began)
            if final:
                return record
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
    finally:
        await conn.close()


async def rollup_matches(dsn: str, found: list[Layout]) -> tuple[int, int]:
    """Events of the bench tenants in the rollup and in the raw table, after the last refresh."""
    layout = next(x for x in found if x.key == "activity_events.by_tenant_half_hour")
    conn = await asyncpg.connect(dsn)
    try:
        table = await conn.fetchval(
            "select table_name from cohort_rollups.state where model = 'activity_events' and rollup = $1",
            layout.name,
        )
        stored = await conn.fetchval(
            f"select coalesce(sum({layout.part('count', 'count')}), 0) from cohort_rollups.{table}"  # noqa: S608
            " where tenant like 'bench-%'"
        )
        raw = await conn.fetchval("select count(*) from cohort_ingest.events where tenant like 'bench-%'")
        return int(stored), int(raw)
    finally:
        await conn.close()


def commits(base: str) -> float:
    text_ = httpx.get(f"{base}/metrics", timeout=5).text
    match = re.search(r"^cohort_ingest_commits ([0-9.e+]+)$", text_, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def floor(dsn: str) -> float:
    """Rows/s of a bare COPY into the events table, 5,000 rows per synchronous commit."""
    now = datetime.now(UTC)
    tenant = f"floor-{uuid.uuid4().hex[:8]}"
    data = orjson.dumps({"learner_id": "L1", "course_id": 1, "module_id": 1, "minutes_spent": 5}).decode()
    rows = [(tenant, -n, f"f-{n}", "module_completed", now, data) for n in range(FLOOR_ROWS)]
    conn = await asyncpg.connect(dsn, server_settings={"synchronous_commit": "on"})
    try:
        started = time.perf_counter()
        for start in range(0, FLOOR_ROWS, FLOOR_COMMIT_ROWS):
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "events",
                    schema_name="cohort_ingest",
                    columns=("tenant", "ingest_seq", "event_id", "event_type", "occurred_at", "data"),
                    records=rows[start : start + FLOOR_COMMIT_ROWS],
                )
        seconds = time.perf_counter() - started
        await conn.execute("delete from cohort_ingest.events where tenant = $1", tenant)
    finally:
        await conn.close()
    return FLOOR_ROWS / seconds


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--batches", default="100,500,1000,2000")
    parser.add_argument("--concurrency", default="2,4,8,16")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--rollup-refresh", type=float, default=0, help="refresh the activity rollups every S seconds"
    )
    args = parser.parse_args()
    from api.ingest.service import asyncpg_dsn
    from api.services import asyncpg_url

    url = os.environ.get("DATABASE_URL") or BENCH_DATABASE
    token = await prepare_database(url)
    dsn = asyncpg_dsn(asyncpg_url(url))
    floor_rate = await floor(dsn)
    rollups = activity_rollups() if args.rollup_refresh > 0 else []
    print(f"floor: bare COPY, {FLOOR_COMMIT_ROWS} rows per commit: {floor_rate:,.0f} rows/s")
    results: list[Result] = []
    env = server_env(url, COHORT_ACCESS_LOG="false", COHORT_INGEST_MAINTENANCE_S="0")
    with (
        tempfile.TemporaryDirectory() as logs,
        serve("api.app:app_from_env", env, args.workers, Path(logs)) as server,
    ):
        await drive(server.base, token, 100, 4, 2.0)  # warm-up
        for batch in (int(b) for b in args.batches.split(",")):
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                before = commits(server.base)
                stop = asyncio.Event()
                worker = (
                    asyncio.create_task(refresh_worker(dsn, rollups, args.rollup_refresh, stop))
                    if args.rollup_refresh > 0
                    else None
                )
                acked, latencies, refused = await drive(server.base, token, batch, concurrency, args.duration)
                done = commits(server.base) - before
                if worker is not None:
                    stop.set()
                    record = await worker
                    print(
                        f"  refresh every {args.rollup_refresh:g} s: {len(record.seconds)} refreshes,"
                        f" p50 {statistics.median(record.seconds):.2f} s,"
                        f" max {max(record.seconds):.2f} s; acknowledged events not yet merged when one"
                        f" began: median {statistics.median(record.behind):,.0f},"
                        f" max {max(record.behind):,}"
                    )
                result = Result(
                    batch,
                    concurrency,
                    acked / args.duration,
                    percentile(latencies, 0.5) * 1000,
                    percentile(latencies, 0.99) * 1000,
                    done,
                    refused,
                )
                results.append(result)
                per_commit = acked / done if done else float("nan")
                print(
                    f"batch {batch:>5} x {concurrency:>3}: {result.events_per_s:>9,.0f} events/s"
                    f"  p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms"
                    f"  {per_commit:8,.0f} events/commit  503s {refused}"
                )
    print()
    print("| batch | senders | events/s | vs floor | p50 ms | p99 ms | events per commit | 503 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        per_commit = r.events_per_s * args.duration / r.commits if r.commits else float("nan")
        print(
            f"| {r.batch:,} | {r.concurrency} | {r.events_per_s:,.0f} | {r.events_per_s / floor_rate:.0%} "
            f"| {r.p50_ms:.1f} | {r.p99_ms:.1f} | {per_commit:,.0f} | {r.refused} |"
        )
    if args.rollup_refresh > 0:
        stored, raw = await rollup_matches(dsn, rollups)
        print(
            f"\nrollup after the last refresh: {stored:,} events, raw table: {raw:,}"
            f" ({'the same' if stored == raw else 'DIFFERENT'})"
        )
    print(f"\nfloor (bare COPY, {FLOOR_COMMIT_ROWS:,} rows per synchronous commit): {floor_rate:,.0f} rows/s")
    print(f"median of the runs: {statistics.median(r.events_per_s for r in results):,.0f} events/s")


if __name__ == "__main__":
    asyncio.run(main())
