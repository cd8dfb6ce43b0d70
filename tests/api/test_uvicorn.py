"""The app served by a real uvicorn process, started the way `cohort serve` starts it."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from tests.databases import free_port
from tests.processes import GRAPHQL_RESPONSE, STARTUP_S, server_env, start, stop, wait_until_healthy
from tests.resolvers.oracle import oracle

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


async def test_uvicorn_serves_graphql(
    database_url: str, engine: AsyncEngine, tmp_path: Path, settings: Settings, admin_headers: dict[str, str]
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "uvicorn.log"
    env = server_env(
        DATABASE_URL=database_url,
        COHORT_RELOAD_INTERVAL_MS="0",
        COHORT_JWT_SECRET=settings.auth.jwt_secret or "",
        COHORT_DATA_DIR=str(settings.data_dir),
    )
    process = start(port, env, log)
    try:
        await wait_until_healthy(base, process, log)
        async with httpx.AsyncClient(
            base_url=base, timeout=10.0, headers={"accept": GRAPHQL_RESPONSE, **admin_headers}
        ) as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["database"] == "ok"
            response = await client.post(
                "/graphql",
                json={
                    "query": "query Subjects($tz: String!) { enrollments(timezone: $tz, limit: 50000) "
                    "{ course { subject } enrolledAt { year } count completionRate } }",
                    "variables": {"tz": "Europe/London"},
                    "operationName": "Subjects",
                },
            )
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
            payload = response.json()
            assert "errors" not in payload, payload
            got = {
                (r["course"]["subject"], r["enrolledAt"]["year"]): (r["count"], r["completionRate"])
                for r in payload["data"]["enrollments"]
            }
            want = await oracle(
                engine,
                "select c.subject, to_char(date_trunc('year', e.enrolled_at at time zone 'Europe/London'), "
                "'YYYY-MM-DD\"T\"HH24:MI:SS'), count(*), avg((e.status = 'completed')::int)::float8 "
                "from enrollments e join courses c on c.id = e.course_id group by 1, 2",
            )
            assert want and set(got) == {(s, y) for s, y, _, _ in want}
            for subject, year, count, rate in want:
                assert got[(subject, year)][0] == count
                assert got[(subject, year)][1] == pytest.approx(rate)
            invalid = await client.post("/graphql", json={"query": "{ enrollments { nope } }"})
            assert invalid.status_code == 400
            assert invalid.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
            metrics = await client.get("/metrics")
            assert 'cohort_graphql_requests_total{operation="Subjects",status="200"} 1.0' in metrics.text
    finally:
        code = stop(process)
    output = log.read_text(errors="replace")
    assert "Traceback" not in output, output
    # uvicorn re-raises SIGTERM after a graceful shutdown, so -SIGTERM is a clean exit too
    assert code in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output, output


async def test_uvicorn_without_database_url_fails_fast(tmp_path: Path) -> None:
    log = tmp_path / "uvicorn.log"
    process = start(free_port(), server_env(COHORT_RELOAD_INTERVAL_MS="0"), log)
    try:
        code = await asyncio.to_thread(process.wait, STARTUP_S)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        stop(process)
    output = log.read_text(errors="replace")
    assert code not in (None, 0), output
    assert "DATABASE_URL" in output, output


async def test_a_model_reload_is_logged_on_the_console(
    database_url: str, tmp_path: Path, settings: Settings
) -> None:
    models = tmp_path / "models"
    shutil.copytree(ROOT / "schema" / "models", models)
    port = free_port()
    log = tmp_path / "uvicorn.log"
    env = server_env(
        DATABASE_URL=database_url,
        COHORT_MODELS_DIR=str(models),
        COHORT_RELOAD_INTERVAL_MS="100",
        COHORT_JWT_SECRET=settings.auth.jwt_secret or "",
        COHORT_DATA_DIR=str(settings.data_dir),
    )
    process = start(port, env, log)
    try:
        await wait_until_healthy(f"http://127.0.0.1:{port}", process, log)
        skills = models / "skills.yml"
        skills.write_text(skills.read_text().replace("title: Skills", "title: Skills gained", 1))
        for _ in range(100):  # the log is a file another process writes: polled, 10 s at most
            if "models reloaded" in log.read_text(errors="replace"):
                break
            await asyncio.sleep(0.1)
    finally:
        stop(process)
    output = log.read_text(errors="replace")
    assert "INFO cohort.reload: models reloaded: version" in output and "(changed skills)" in output, output
