"""`cohort run` (what `make run` calls) on a machine with nothing set: it starts the embedded
PostgreSQL and Redis, serves, and when stopped leaves no process of theirs running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.databases import free_port

pytestmark = pytest.mark.integration


def _holding(folder: Path) -> list[str]:
    """Processes whose command line names the folder (the embedded servers run there)."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or ())
        if str(folder) in cmdline and process.info["pid"] != os.getpid():
            found.append(f"{process.info['pid']}: {cmdline[:120]}")
    return found


def test_run_serves_then_stops_the_embedded_servers(tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "COHORT_STATE_DATABASE_URL")
    }
    env |= {"COHORT_DATA_DIR": str(tmp_path), "COHORT_PORT": str(port), "COHORT_DEMO_SCALE": "tiny"}
    cohort = Path(sys.executable).parent / "cohort"
    process = subprocess.Popen(
        [str(cohort), "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            time.sleep(0.5)
        else:
            pytest.fail("cohort run did not become ready in 120 s")
        assert _holding(tmp_path), "the embedded servers run under the data folder"
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert "Cohort on http://127.0.0.1" in output
    deadline = time.monotonic() + 15
    while _holding(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _holding(tmp_path) == [], output[-2000:]
