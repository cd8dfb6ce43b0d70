"""Opening an embedded dashboard in chromium: the time to its last tile drawn, cold and warm.

    .venv/bin/python -m bench.dashboard_load [--dashboard university_overview] [--runs 5]

A real uvicorn serves Cohort (1 worker, the result cache on Redis); a host page on another
origin frames the dashboard with an embed token (tests/embed/host_page.py), in headless
chromium (/usr/bin/chromium) driven by Playwright. Each run opens the host page in a new
browser context (no HTTP cache) and measures:

- `to drawn`: from `page.goto` of the host page to the frame's `performance.mark`
  `cohort:tiles-drawn` (host page, frame, assets, spec, filter choices, every tile);
- `in frame`: the mark's own time (from the frame's navigation start);
- the requests the frame made to Cohort, and how many of them were GraphQL.

cold: the Redis database flushed before each run (every tile runs its SQL); warm: the same
runs again without flushing (tiles from the cache). The database is DATABASE_URL when set,
else `cohort_bench` on 127.0.0.1:5432 (seeded at the default scale when missing); Redis is
REDIS_URL, else redis://127.0.0.1:6379/8, a database of its own (it is flushed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import async_playwright
from sqlalchemy.ext.asyncio import create_async_engine

from api.auth.api_tokens import ApiTokenStore
from api.rate_limit import redis_client
from api.services import asyncpg_url
from bench.cache_load import BENCH_DATABASE, prepare_database
from tests.databases import free_port
from tests.embed.host_page import host_html, host_site
from tests.processes import server_env, start, stop, wait_until_healthy

REDIS = "redis://127.0.0.1:6379/8"
CHROMIUM = "/usr/bin/chromium"


async def _token(database: str, cohort: str, dashboard: str) -> str:
    engine = create_async_engine(asyncpg_url(database))
    try:
        api_token, _ = await ApiTokenStore(engine).create(
            "dashboard_load bench", "cohort-platform", ["embed_host"]
        )
    finally:
        await engine.dispose()
    body = {
        "user": "bench@northbridge.example",
        "tenant": "northbridge-university",
        "roles": ["university_admin"],
        "dashboards": [dashboard],
        "ttl_s": 3600,
    }
    async with httpx.AsyncClient(base_url=cohort, timeout=10) as client:
        response = await client.post(
            "/embed/sessions", json=body, headers={"authorization": f"Bearer {api_token}"}
        )
    if response.status_code != 201:
        raise SystemExit(f"POST /embed/sessions: {response.status_code} {response.text}")
    return str(response.json()["token"])


async def _open(browser: Any, url: str, cohort: str) -> dict[str, float]:
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = await context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: r.url.startswith(cohort) and requests.append(r.url))
        started = time.perf_counter()
        await page.goto(url)
        frame = next(f for f in page.frames if "/embed/dashboards/" in f.url)
        await frame.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=60_000)
        drawn = time.perf_counter() - started
        mark = await frame.evaluate("performance.getEntriesByName('cohort:tiles-drawn')[0].startTime")
        graphql = sum(1 for r in requests if r.endswith("/graphql"))
        return {
            "drawn_ms": drawn * 1000,
            "frame_ms": float(mark),
            "requests": len(requests),
            "graphql": graphql,
        }
    finally:
        await context.close()


def _summary(name: str, runs: list[dict[str, float]]) -> str:
    drawn = statistics.median(r["drawn_ms"] for r in runs)
    frame = statistics.median(r["frame_ms"] for r in runs)
    spread = f"{min(r['drawn_ms'] for r in runs):.0f}-{max(r['drawn_ms'] for r in runs):.0f}"
    counts = f"{runs[0]['requests']:.0f} | {runs[0]['graphql']:.0f}"
    return f"| {name} | {drawn:.0f} ({spread}) | {frame:.0f} | {counts} |"


async def main(dashboard: str, runs: int) -> None:
    database = os.environ.get("DATABASE_URL", BENCH_DATABASE)
    redis_url = os.environ.get("REDIS_URL", REDIS)
    await prepare_database(database)
    redis = redis_client(redis_url, timeout_s=5.0)
    with tempfile.TemporaryDirectory() as scratch, host_site(Path(scratch)) as host:
        port = free_port()
        cohort = f"http://127.0.0.1:{port}"
        log = Path(scratch) / "uvicorn.log"
        env = server_env(
            DATABASE_URL=database,
            REDIS_URL=redis_url,
            COHORT_DATA_DIR=str(Path(scratch) / "data"),
            COHORT_EMBED_ORIGINS=host,
            COHORT_RELOAD_INTERVAL_MS="0",
            COHORT_RATE_LIMIT_PER_MINUTE="0",
            COHORT_ACCESS_LOG="false",
        )
        process = start(port, env, log)
        try:
            await wait_until_healthy(cohort, process, log)
            (Path(scratch) / "host.html").write_text(
                host_html(cohort, dashboard, await _token(database, cohort, dashboard))
            )
            url = f"{host}/host.html"
            async with async_playwright() as driver:
                browser = await driver.chromium.launch(executable_path=CHROMIUM, headless=True)
                await _open(browser, url, cohort)  # the server's first requests (pools, documents)
                cold, warm = [], []
                for _ in range(runs):
                    await redis.flushdb()
                    cold.append(await _open(browser, url, cohort))
                for _ in range(runs):
                    warm.append(await _open(browser, url, cohort))
                await browser.close()
        finally:
            stop(process)
            await redis.aclose()
    print(f"dashboard {dashboard}, {runs} runs each, medians (min-max)\n")
    print("| cache | to drawn (ms) | in frame (ms) | requests to Cohort | of them GraphQL |")
    print("|---|---:|---:|---:|---:|")
    print(_summary("cold (Redis flushed)", cold))
    print(_summary("warm", warm))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dashboard", default="university_overview")
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.dashboard, arguments.runs))
