"""Six dashboard queries (and a seventh, through a join) at population scale, from the raw
tables and from rollups; build time, refresh lag under a stream of new events, and storage.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cohort_population \\
      .venv/bin/python -m bench.rollup_queries [--build] [--runs 20] [--raw-runs 3]
                                               [--concurrency 1,16] [--lag-seconds 60]

The database holds the demo warehouse (`cohort seed --scale population`: 100 million
progress events). Queries go through Cohort's own path below HTTP: the real access
policy (a university admin's row filter and small-group suppression, a platform admin),
the planner, the matcher and compiler, the executor on asyncpg; no result cache. Each
query's rollup answer is compared with its raw answer before timing.

- `--build`: every rollup of progress_events (or `--only` those) built anew first (timed).
- Latency: p50 and p95 per query, at each concurrency (that many clients, each running
  the queries in turn); rollups `--runs` rounds, raw `--raw-runs` rounds at 1 client
  only (a raw round at 100 million events takes minutes; at 16 clients it is queueing).
- Refresh lag: new progress events COPYed at `--rate` (25,000/s) for `--lag-seconds`,
  while `refresh` runs back to back; reported: the refresh time, and the events not yet
  merged when each refresh starts (what the raw tail of a query reads).
- Storage: the raw table against each rollup, with indexes.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from api.ingest.service import asyncpg_dsn
from api.rollups import refresh as refreshing
from api.rollups import tables
from api.services import asyncpg_url
from api.settings import Settings
from authz.audit import Audit
from authz.authorizer import Authorizer
from authz.enforcer import PolicyEnforcer
from authz.policy_store import DEFAULT_POLICY, read_policy_file
from authz.principal import Principal
from resolvers.database import DatabaseTimeouts
from resolvers.executor import Executor, create_engine
from resolvers.rollups.catalog import RollupCatalog
from resolvers.rollups.layout import layouts
from resolvers.service import QueryService
from schema.query import Condition, DimensionRef, EffectiveQuery, OrderBy, SemanticQuery
from schema.registry import Registry
from schema.validator import load_registry

BENCH_DATABASE = "postgresql://postgres@127.0.0.1:5432/cohort_population"
MODEL = "progress_events"
SIZES = """
    select c.relname, pg_total_relation_size(c.oid) as bytes, c.reltuples::bigint as rows
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where (n.nspname = 'cohort_rollups' and c.relname in (select table_name from cohort_rollups.state))
       or (n.nspname = 'public' and c.relname = 'progress_events')
    order by 2 desc
"""


@dataclass(frozen=True)
class Dashboard:
    name: str
    principal: Principal
    query: SemanticQuery


def dashboards(university: str, course: int, today: date) -> list[Dashboard]:
    admin = Principal("user:bench-admin", "platform", ("platform_admin",))
    partner = Principal("user:bench-university", university, ("university_admin",))
    last_30 = Condition("occurred_at", "inDateRange", (today - timedelta(days=29), today))
    two_years = Condition("occurred_at", "inDateRange", (date(today.year - 2, today.month, 1), today))
    return [
        Dashboard(
            "university: daily active learners, 30 days",
            partner,
            SemanticQuery(MODEL, ("active_learners",), (DimensionRef("occurred_at", "day"),), (last_30,)),
        ),
        Dashboard(
            "university: top courses by modules completed",
            partner,
            SemanticQuery(
                MODEL,
                ("modules_completed",),
                (DimensionRef("course_id"),),
                order=(OrderBy("modules_completed", descending=True), OrderBy("course_id")),
                limit=10,
            ),
        ),
        Dashboard(
            "university: top courses by title (joined)",
            partner,
            SemanticQuery(
                MODEL,
                ("modules_completed",),
                (DimensionRef("course.title"),),
                order=(OrderBy("modules_completed", descending=True), OrderBy("course.title")),
                limit=10,
            ),
        ),
        Dashboard(
            "university: monthly activity, two years",
            partner,
            SemanticQuery(
                MODEL, ("count", "learning_hours"), (DimensionRef("occurred_at", "month"),), (two_years,)
            ),
        ),
        Dashboard(
            "university: one course's funnel",
            partner,
            SemanticQuery(
                MODEL,
                ("modules_started", "modules_completed"),
                (DimensionRef("module_id"),),
                (Condition("course_id", "equals", (course,)),),
            ),
        ),
        Dashboard(
            "platform: weekly active learners, all weeks",
            admin,
            SemanticQuery(MODEL, ("active_learners",), (DimensionRef("occurred_at", "week"),)),
        ),
        Dashboard(
            "platform: events by university",
            admin,
            SemanticQuery(MODEL, ("count",), (DimensionRef("university"),)),
        ),
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def timed_rounds(
    services: QueryService, planned: list[tuple[str, EffectiveQuery]], clients: int, rounds: int
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name, _ in planned}

    async def client(offset: int) -> None:
        for round_ in range(rounds):
            for step in range(len(planned)):
                name, effective = planned[(step + offset + round_) % len(planned)]
                compiled = services.compile(effective)
                started = time.perf_counter()
                await services.executor.run(compiled)
                times[name].append(time.perf_counter() - started)

    await asyncio.gather(*(client(n) for n in range(clients)))
    return times


def _rows(result: Any) -> list[tuple[Any, ...]]:
    return sorted((tuple(row) for row in result.rows), key=repr)


async def build(
    conn: asyncpg.Connection, registry: Registry, only: list[str]
) -> list[tuple[str, float, int, int]]:
    await tables.setup(conn)
    built = []
    for layout in layouts(registry.models):
        if layout.model.model != MODEL or (only and layout.name not in only):
            continue
        done = await refreshing.refresh(conn, layout, rebuild=True)
        table = await conn.fetchval(
            "select table_name from cohort_rollups.state where model = $1 and rollup = $2", MODEL, layout.name
        )
        size = await conn.fetchval(
            "select pg_total_relation_size(to_regclass($1))", f"cohort_rollups.{table}"
        )
        built.append((layout.key, done.seconds, done.rows_merged, int(size)))
        print(f"built {layout.key}: {done.rows_merged:,} rows in {done.seconds:.1f} s, {size / 1e6:,.0f} MB")
    return built


async def stream_events(dsn: str, rate: int, seconds: float, stop: Callable[[], bool]) -> int:
    """COPY new progress events (copies of recent ones, with new ids and now()) at `rate`."""
    conn = await asyncpg.connect(dsn)
    try:
        sample = await conn.fetch(
            "select enrollment_id, learner_id, course_id, module_id, partner_id, enterprise_id, "
            "event_type, minutes_spent from progress_events order by id desc limit 5000"
        )
        next_id = int(await conn.fetchval("select max(id) from progress_events")) + 1
        sent, started, tick = 0, time.monotonic(), 0.1
        columns = (
            "id", "enrollment_id", "learner_id", "course_id", "module_id", "partner_id",
            "enterprise_id", "event_type", "occurred_at", "minutes_spent",
        )  # fmt: skip
        while time.monotonic() - started < seconds and not stop():
            due = int((time.monotonic() - started + tick) * rate) - sent
            now = datetime.now(UTC)
            records = [
                (next_id + n, *sample[(sent + n) % len(sample)][:7], now, sample[(sent + n) % len(sample)][7])
                for n in range(max(0, due))
            ]
            if records:
                await conn.copy_records_to_table("progress_events", records=records, columns=columns)
                next_id += len(records)
                sent += len(records)
            await asyncio.sleep(max(0.0, started + (sent / rate) - time.monotonic()))
        return sent
    finally:
        await conn.close()


async def refresh_lag(dsn: str, registry: Registry, rate: int, seconds: float) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn, server_settings={"statement_timeout": "0"})
    built = {
        row[0] for row in await conn.fetch("select rollup from cohort_rollups.state where model = $1", MODEL)
    }
    found = [
        layout for layout in layouts(registry.models) if layout.model.model == MODEL and layout.name in built
    ]
    durations: list[float] = []
    behind: list[int] = []
    done = False
    streamer = asyncio.create_task(stream_events(dsn, rate, seconds, lambda: done))
    started = time.monotonic()
    try:
        while not streamer.done():
            head = int(await conn.fetchval("select max(id) from progress_events"))
            lowest = min(
                int(row[0]) for row in await conn.fetch("select watermark from cohort_rollups.state")
            )
            behind.append(head - lowest)
            began = time.perf_counter()
            for layout in found:
                await refreshing.refresh(conn, layout, rebuild_every_s=1e9)
            durations.append(time.perf_counter() - began)
        sent = await streamer
    finally:
        done = True
        await conn.close()
    elapsed = time.monotonic() - started
    return {
        "sent": sent,
        "rate": sent / elapsed,
        "refreshes": len(durations),
        "refresh_p50_s": statistics.median(durations) if durations else float("nan"),
        "refresh_p95_s": percentile(durations, 0.95) if durations else float("nan"),
        "behind_p50": statistics.median(behind) if behind else 0,
        "behind_max": max(behind) if behind else 0,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--build", action="store_true")
    parser.add_argument(
        "--only", default="", help="with --build: these rollups only (names, comma-separated)"
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--raw-runs", type=int, default=3)
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--lag-seconds", type=float, default=60)
    parser.add_argument("--rate", type=int, default=25_000)
    args = parser.parse_args()
    url = asyncpg_url(os.environ.get("DATABASE_URL") or BENCH_DATABASE)
    dsn = asyncpg_dsn(url)
    settings = Settings.from_env()
    registry = load_registry(settings.models_dir, settings.dashboards)
    conn = await asyncpg.connect(dsn, server_settings={"statement_timeout": "0"})
    try:
        events = await conn.fetchval(
            "select reltuples::bigint from pg_class where relname = 'progress_events'"
        )
        university = await conn.fetchval(
            "select id from organizations where kind = 'university' order by id limit 1"
        )
        course = await conn.fetchval(
            "select id from courses where partner_id = $1 order by id limit 1", university
        )
        latest = await conn.fetchval(
            "select max(occurred_at) from progress_events where partner_id = $1", university
        )
        print(f"{events:,} progress events (estimate); university {university}, course {course}")
        only = [name for name in args.only.split(",") if name]
        built = await build(conn, registry, only) if args.build else []
        sizes = await conn.fetch(SIZES)
    finally:
        await conn.close()

    timeouts = DatabaseTimeouts(statement_s=900, command_s=30, pool_s=900)
    engine = create_engine(url, timeouts, pool_size=16, max_overflow=0)
    executor = Executor(engine, timeouts=timeouts)
    catalog = RollupCatalog(executor.rows)
    await catalog.load()
    served = QueryService(registry, executor, rollups=catalog)
    raw = QueryService(registry, executor)
    enforcer = PolicyEnforcer(read_policy_file(DEFAULT_POLICY), 1)
    authorizer = Authorizer(lambda: enforcer, Audit())
    planned = [
        (d.name, authorizer.authorize(registry, d.principal, d.query))
        for d in dashboards(university, course, latest.date())
    ]
    for name, effective in planned:
        compiled = served.compile(effective)
        route = dict(compiled.route or {})
        same = _rows(await executor.run(compiled)) == _rows(await executor.run(raw.compile(effective)))
        print(
            f"{name}: {route.get('rollup') or route.get('reason')} - {'same answer' if same else 'DIFFERENT'}"
        )
        if not same:
            raise SystemExit(f"{name}: the rollup's answer differs from the raw tables'")

    results: dict[tuple[str, int], dict[str, list[float]]] = {}
    for clients in (int(c) for c in args.concurrency.split(",")):
        results[("rollups", clients)] = await timed_rounds(served, planned, clients, args.runs)
        if clients == 1 and args.raw_runs:
            results[("raw", clients)] = await timed_rounds(raw, planned, clients, args.raw_runs)
    await engine.dispose()

    print(
        "\n| query | clients | raw p50 ms | raw p95 ms | rollup p50 ms | rollup p95 ms | raw / rollup (p50) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for (mode, clients), times in results.items():
        if mode != "rollups":
            continue
        raw_times = results.get(("raw", clients))
        for name, values in times.items():
            rp50, rp95 = statistics.median(values) * 1000, percentile(values, 0.95) * 1000
            if raw_times:
                w50 = statistics.median(raw_times[name]) * 1000
                w95 = percentile(raw_times[name], 0.95) * 1000
                cells = f"{w50:,.0f} | {w95:,.0f} | {rp50:.1f} | {rp95:.1f} | {w50 / rp50:,.0f}x"
                print(f"| {name} | {clients} | {cells} |")
            else:
                print(f"| {name} | {clients} | | | {rp50:.1f} | {rp95:.1f} | |")
    if built:
        print("\n| rollup | build s | rows |")
        print("|---|---:|---:|")
        for key, seconds, rows, _ in built:
            print(f"| {key} | {seconds:,.1f} | {rows:,} |")
    print("\n| table | rows | size MB |")
    print("|---|---:|---:|")
    for row in sizes:
        print(f"| {row['relname']} | {row['rows']:,} | {row['bytes'] / 1e6:,.0f} |")
    if args.lag_seconds > 0:
        lag = await refresh_lag(dsn, registry, args.rate, args.lag_seconds)
        print(
            f"\nrefresh under {lag['rate']:,.0f} new events/s for {args.lag_seconds:.0f} s "
            f"({lag['sent']:,} events): {lag['refreshes']} refreshes of all rollups, "
            f"p50 {lag['refresh_p50_s']:.2f} s, p95 {lag['refresh_p95_s']:.2f} s; events not yet merged "
            f"when a refresh starts: median {lag['behind_p50']:,}, max {lag['behind_max']:,}"
        )


if __name__ == "__main__":
    asyncio.run(main())
