"""A big export served by a real uvicorn process: it streams in bounded memory (the process's
peak RSS barely moves between 20,000 and 300,000 rows), a second export waits its turn when
the process is at its limit, and no token reaches the server's log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from api.settings import Settings
from tests.api.test_uvicorn import server_env, start, stop, wait_until_healthy
from tests.databases import free_port

pytestmark = pytest.mark.integration

ROWS = 300_000
SERIES = f"""
model: series
sql: "select n as id, md5(n::text) as label, n * 0.5 as half from generate_series(1, {ROWS}) n"
primary_key: id
dimensions:
  id: {{type: number, data_type: integer}}
  label: {{type: string}}
  half: {{type: number}}
measures:
  count: {{type: count}}
"""  # noqa: S608
QUERY = "{ series(orderBy: [{id: ASC}]) { id label half count } }"
GROWTH_LIMIT_KB = 30_000  # rows held at once would take about 100 MB here


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def streamed(client: httpx.AsyncClient, query: str) -> tuple[int, int, str]:
    """Lines, the sum of the first column, and the last line, reading the body as it comes."""
    lines, total, last, pending = 0, 0, "", ""
    async with client.stream("POST", "/export.csv", json={"query": query}) as response:
        assert response.status_code == 200, await response.aread()
        async for chunk in response.aiter_text():
            pending += chunk
            *complete, pending = pending.split("\r\n")
            for line in complete:
                lines += 1
                last = line
                if lines > 1:
                    total += int(line.split(",", 1)[0])
    assert pending == ""
    return lines, total, last


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS from /proc")
async def test_a_big_export_in_bounded_memory(
    database_url: str, tmp_path: Path, settings: Settings, admin_headers: dict[str, str]
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "series.yml").write_text(SERIES)
    port = free_port()
    log = tmp_path / "uvicorn.log"
    env = server_env(
        DATABASE_URL=database_url,
        COHORT_MODELS_DIR=str(models),
        COHORT_RELOAD_INTERVAL_MS="0",
        COHORT_JWT_SECRET=settings.auth.jwt_secret or "",
        COHORT_DATA_DIR=str(settings.data_dir),
        COHORT_EXPORT_CONCURRENCY="1",
        COHORT_EXPORT_BATCH_ROWS="2000",
    )
    process = start(port, env, log)
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_until_healthy(base, process, log)
        async with httpx.AsyncClient(base_url=base, timeout=60.0, headers=admin_headers) as client:
            small = "{ series(limit: 20000, orderBy: [{id: ASC}]) { id label half count } }"
            assert (await streamed(client, small))[0] == 20_001
            baseline = peak_rss_kb(process.pid)
            lines, total, last = await streamed(client, QUERY)
            growth = peak_rss_kb(process.pid) - baseline
            assert lines == ROWS + 1
            assert total == ROWS * (ROWS + 1) // 2
            assert last.startswith(f"{ROWS},")
            assert growth < GROWTH_LIMIT_KB, f"the peak RSS grew by {growth} kB"

            async with client.stream("POST", "/export.csv", json={"query": QUERY}) as first:
                assert first.status_code == 200
                await anext(first.aiter_bytes())
                second = await client.post("/export.csv", json={"query": QUERY})
                assert second.status_code == 503
                assert second.headers["retry-after"] == "5"
                assert second.json()["errors"][0]["message"] == "1 exports are running; try again shortly"
            # the first one's connection and turn are released when its client leaves
            for _ in range(50):
                again = await client.post("/export.csv", json={"query": "{ series(limit: 3) { id } }"})
                if again.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert again.status_code == 200 and again.text.count("\r\n") == 4
    finally:
        stop(process)
    output = log.read_text(errors="replace")
    assert "POST /export.csv" in output  # the access log is there...
    assert admin_headers["authorization"].split()[1] not in output  # ...without the token
