"""Cached queries under load: a real uvicorn server on 127.0.0.1, driven by wrk.

    .venv/bin/python -m bench.cache_load [--duration 10] [--connections 32] [--threads 2] [--runs 3]

Scenarios, each against a fresh server process (`python -m uvicorn --factory ...`):

1. cached: a dashboard query answered from the result cache (warmed first);
2. uncached: the same query with COHORT_CACHE=false, so every request runs its SQL;
3. floor: a plain Starlette endpoint (`floor_app` below) that answers every POST with the
   cached query's exact response bytes, read from Redis (one GET) on each request: the
   least an HTTP + Redis answer costs on this stack;
4. cached with `--workers 2`.

Needs wrk (`apt-get install -y wrk`), Redis on 127.0.0.1:6379 and PostgreSQL. The
database is DATABASE_URL when set, else `cohort_bench` on 127.0.0.1:5432 (created,
migrated, seeded at the default demo scale and given the demo policy when missing).
All traffic goes to 127.0.0.1; every server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
LUA = Path(__file__).resolve().parent / "graphql_post.lua"
BENCH_DATABASE = "postgresql://postgres@127.0.0.1:5432/cohort_bench"
REDIS_URL = "redis://127.0.0.1:6379/0"
JWT_SECRET = "bench-secret-that-is-long-enough-for-hs256!"
FLOOR_KEY = "cohort:bench:floor-response"
GRAPHQL_RESPONSE = "application/graphql-response+json"
STARTUP_S = 30.0
MAX_OTHER_CORES = 0.1  # a run disturbed by more than this is run again
RETRIES = 2

# A dashboard tile: enrollments and completion by subject and month, half a year, in London
# time, for a university admin (the tenant scope is added by the access policy).
QUERY = """query Dashboard {
  enrollments(
    where: { enrolledAt: { inDateRange: ["2025-01-01", "2025-06-30"] } }
    orderBy: [{ enrolledAt: ASC }, { count: DESC }]
    timezone: "Europe/London"
    limit: 100
  ) {
    enrolledAt { month }
    course { subject }
    count
    completionRate
    avgProgress
  }
}"""


# --- the floor: HTTP + one Redis GET, nothing else --------------------------------------


def floor_app() -> Starlette:
    """`uvicorn --factory bench.cache_load:floor_app`: POST /graphql answers the bytes stored
    under FLOOR_KEY, read from Redis on every request with the app's own client settings."""
    from api.rate_limit import redis_client

    clients: list[Any] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        clients.append(redis_client(os.environ.get("REDIS_URL", REDIS_URL)))
        try:
            yield
        finally:
            await clients[0].aclose()

    async def graphql(request: Request) -> Response:
        await request.body()
        body = await clients[0].get(FLOOR_KEY)
        return Response(body, media_type=GRAPHQL_RESPONSE)

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(
        routes=[Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz)], lifespan=lifespan
    )


# --- the database ------------------------------------------------------------------------


async def prepare_database(url: str) -> None:
    """Create, migrate, seed (default scale) and load the demo policy where missing."""
    from api.demo.load import is_seeded, seed_demo
    from api.migrations import upgrade
    from api.services import asyncpg_url
    from authz.policy_store import PolicyStore

    target = make_url(asyncpg_url(url))
    admin = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                text("select exists (select from pg_database where datname = :name)"),
                {"name": target.database},
            )
            if not exists:
                print(f"creating database {target.database}")
                await conn.execute(text(f'create database "{target.database}"'))
    finally:
        await admin.dispose()
    engine = create_async_engine(target)
    try:
        await upgrade(engine)
        if not await is_seeded(engine):
            print("seeding the demo warehouse (default scale)")
            await seed_demo(engine, scale="default", seed=42, progress=True)
        if await PolicyStore(engine).seed():
            print("loaded the demo access policy")
    finally:
        await engine.dispose()


# --- servers -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def uvicorn_command(factory: str, port: int, workers: int) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    return [*command, "--workers", str(workers)] if workers > 1 else command


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("COHORT_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        COHORT_JWT_SECRET=JWT_SECRET,
        COHORT_RATE_LIMIT_PER_MINUTE="0",
        COHORT_RELOAD_INTERVAL_MS="0",
        COHORT_GRAPHIQL="false",
    )
    env.update(extra)
    return env


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log: Path
    command: list[str]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve(factory: str, env: dict[str, str], workers: int, logs: Path) -> Iterator[Server]:
    port = free_port()
    command = uvicorn_command(factory, port, workers)
    log = logs / f"{factory.rsplit(':', 1)[-1]}-{port}.log"
    with log.open("wb") as out:
        # Its own process group: stopping it also reaches the workers of `--workers 2`.
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(process, f"http://127.0.0.1:{port}", log, command)
    try:
        wait_until_healthy(server)
        yield server
    finally:
        stop(process)
    if "Traceback" in server.output():
        raise SystemExit(f"the server logged an error:\n{server.output()}")


def wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_S
    with httpx.Client(base_url=server.base, timeout=1.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise SystemExit(f"uvicorn exited with {server.process.returncode}:\n{server.output()}")
            try:
                if client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise SystemExit(f"uvicorn did not answer /healthz within {STARTUP_S} s:\n{server.output()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # the group this bench started for it
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # a worker that outlived its supervisor
        os.killpg(process.pid, signal.SIGKILL)


# --- requests ----------------------------------------------------------------------------


def post(server: Server, token: str, body: bytes) -> httpx.Response:
    response = httpx.post(
        f"{server.base}/graphql",
        content=body,
        headers={
            "content-type": "application/json",
            "accept": GRAPHQL_RESPONSE,
            "authorization": f"Bearer {token}",
        },
        timeout=30.0,
    )
    if response.status_code != 200 or b'"errors"' in response.content:
        raise SystemExit(f"the query failed: {response.status_code} {response.text[:2000]}")
    return response


def cache_note(response: httpx.Response) -> dict[str, Any] | None:
    note: dict[str, Any] | None = response.json().get("extensions", {}).get("cache", {}).get("enrollments")
    return note


def cache_counts(server: Server) -> dict[str, float]:
    """One worker's result cache counters, from /metrics."""
    metrics = httpx.get(f"{server.base}/metrics", timeout=5.0).text
    found = re.findall(r'^cohort_result_cache\{outcome="(\w+)"\} ([0-9.e+]+)$', metrics, re.MULTILINE)
    return {outcome: float(value) for outcome, value in found}


TICKS = os.sysconf("SC_CLK_TCK")
SERVICES = ("redis-server", "postgres")


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(n) for n in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _process_ticks() -> dict[int, tuple[str, int, int]]:
    """pid -> (command name, process group, user + system ticks) for every process."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                raw = stat.read()
        except OSError:  # gone meanwhile
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        found[int(entry)] = (name, int(fields[2]), int(fields[11]) + int(fields[12]))
    return found


@dataclass(frozen=True)
class CpuUse:
    """Cores used during a run (2 = both cores all the time), by whom."""

    server: float  # the uvicorn process group
    wrk: float
    services: float  # redis-server and postgres
    other: float  # everything else on the machine: competition for the cores


class CpuMeter:
    def __init__(self, server_group: int) -> None:
        self.server_group = server_group

    def __enter__(self) -> CpuMeter:
        self.started = time.monotonic()
        self.machine = _machine_ticks()
        self.processes = _process_ticks()
        self.children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = time.monotonic() - self.started
        busy = _machine_ticks()[0] - self.machine[0]
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        wrk = (
            children.ru_utime + children.ru_stime - self.children.ru_utime - self.children.ru_stime
        ) * TICKS
        server = services = mine = 0
        for pid, (name, group, ticks) in _process_ticks().items():
            before = self.processes.get(pid)
            used = ticks - (before[2] if before and before[0] == name else 0)
            if group == self.server_group:
                server += used
            elif name in SERVICES:
                services += used
            elif pid == os.getpid():
                mine += used
        other = max(0.0, busy - server - services - mine - wrk)
        self.use = CpuUse(*(ticks / TICKS / seconds for ticks in (server, wrk, services, other)))


def wait_for_quiet(limit_s: float, threshold: float = 0.15) -> None:
    """Wait (at most `limit_s`) until the cores are idle before loading them."""
    deadline = time.monotonic() + limit_s
    while True:
        busy0, total0 = _machine_ticks()
        time.sleep(1.0)
        busy1, total1 = _machine_ticks()
        busy = (busy1 - busy0) / max(1, total1 - total0)
        if busy <= threshold or time.monotonic() > deadline:
            return
        print(f"  the machine is {busy:.0%} busy with other work; waiting")


# --- wrk ---------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass(frozen=True)
class Load:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int  # non-2xx responses and socket errors
    cpu: CpuUse | None = None


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> Load:
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    requests = int(re.search(r"^\s+(\d+) requests in", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"^Requests/sec:\s+([0-9.]+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors:
        bad += sum(int(n) for n in socket_errors.groups())
    return Load(rate, _ms(percentiles["50"]), _ms(percentiles["99"]), requests, bad)


def wrk_command(url: str, threads: int, connections: int, duration_s: int) -> list[str]:
    return [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--latency",
        "-s",
        str(LUA.relative_to(ROOT)),
        url,
    ]


def run_wrk(command: list[str], env: dict[str, str], duration_s: int) -> tuple[Load, str]:
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse_wrk(done.stdout), done.stdout


# --- the bench ---------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    command: str
    loads: list[Load]
    note: str = ""

    def median(self, field: str) -> float:
        return statistics.median(getattr(load, field) for load in self.loads)

    def cpu(self, part: str) -> float:
        return statistics.median(getattr(load.cpu, part) for load in self.loads if load.cpu)


def measure(
    name: str, server: Server, args: argparse.Namespace, wrk_env: dict[str, str], note: str = ""
) -> Row:
    url = f"{server.base}/graphql"
    wait_for_quiet(args.quiet_wait)
    run_wrk(wrk_command(url, args.threads, args.connections, args.warmup), wrk_env, args.warmup)
    command = wrk_command(url, args.threads, args.connections, args.duration)
    loads = []
    for run in range(args.runs):
        for _attempt in range(1 + RETRIES):
            wait_for_quiet(args.quiet_wait)
            with CpuMeter(server.process.pid) as meter:
                load, output = run_wrk(command, wrk_env, args.duration)
            load = replace(load, cpu=meter.use)
            if args.verbose:
                print(output)
            if load.bad:
                raise SystemExit(f"{name}: {load.bad} failed requests in run {run + 1}:\n{output}")
            print(
                f"  {name} run {run + 1}: {load.requests_per_s:,.0f} req/s, p50 {load.p50_ms:.2f} ms, "
                f"p99 {load.p99_ms:.2f} ms; cores: server {meter.use.server:.2f}, wrk {meter.use.wrk:.2f}, "
                f"redis+postgres {meter.use.services:.2f}, other {meter.use.other:.2f}"
            )
            if meter.use.other <= MAX_OTHER_CORES:
                break
            print(f"  other processes took {meter.use.other:.2f} cores: run again")
        loads.append(load)
    port = server.base.rsplit(":", 1)[1]
    shown_server = " ".join(server.command).replace(sys.executable, ".venv/bin/python")
    shown_server = shown_server.replace(f"--port {port}", "--port PORT")
    shown_wrk = " ".join(command).replace(server.base, "http://127.0.0.1:PORT")
    return Row(name, f"`{shown_server}` then `{shown_wrk}`", loads, note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load first")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3, help="measured runs per scenario (medians shown)")
    parser.add_argument(
        "--quiet-wait", type=float, default=120, help="seconds to wait for other processes to go idle"
    )
    parser.add_argument("--verbose", action="store_true", help="print wrk's own output")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    from api.auth.jwt_verifier import mint_token
    from api.rate_limit import redis_client
    from api.settings import AuthSettings

    database_url = os.environ.get("DATABASE_URL") or BENCH_DATABASE
    asyncio.run(prepare_database(database_url))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="cohort-cache-load-") as folder:
        logs = Path(folder)
        token = mint_token(
            AuthSettings(jwt_secret=JWT_SECRET),
            logs,
            subject="bench",
            tenant="northbridge-university",
            roles=["university_admin"],
            expires_in_s=3600,
        )
        body = orjson.dumps({"query": QUERY, "operationName": "Dashboard"})
        (logs / "body.json").write_bytes(body)
        wrk_env = {**os.environ, "COHORT_BENCH_BODY": str(logs / "body.json"), "COHORT_BENCH_TOKEN": token}
        factory = "api.app:app_from_env"

        print("cached, 1 worker")
        with serve(factory, server_env(database_url), 1, logs) as server:
            post(server, token, body)
            warm = post(server, token, body)
            assert (cache_note(warm) or {}).get("hit") is True, warm.text
            cached_bytes = warm.content
            rows.append(measure("cached, 1 worker", server, args, wrk_env))
            counts = cache_counts(server)
            print(f"  result cache (this worker): {counts}")
            if counts.get("redis_failure", 0) or counts.get("miss", 0) > 1:
                raise SystemExit(f"the cached run was not served from the cache: {counts}")
            rows[-1].note = f"{counts.get('hit', 0):,.0f} hits, {counts.get('miss', 0):.0f} miss, 0 failures"

        print("uncached (COHORT_CACHE=false), 1 worker")
        with serve(factory, server_env(database_url, COHORT_CACHE="false"), 1, logs) as server:
            uncached = post(server, token, body)
            assert cache_note(uncached) is None, uncached.text
            assert orjson.loads(uncached.content)["data"] == orjson.loads(cached_bytes)["data"]
            rows.append(measure("uncached, 1 worker", server, args, wrk_env, "SQL on every request"))

        print("floor: Starlette + one Redis GET, 1 worker")

        async def store(value: bytes | None) -> None:
            client = redis_client(REDIS_URL, timeout_s=5.0)
            try:
                if value is None:
                    await client.delete(FLOOR_KEY)
                else:
                    await client.set(FLOOR_KEY, value)
            finally:
                await client.aclose()

        asyncio.run(store(cached_bytes))
        try:
            with serve("bench.cache_load:floor_app", server_env(database_url), 1, logs) as server:
                same = httpx.post(f"{server.base}/graphql", content=body, timeout=10.0)
                assert same.content == cached_bytes
                rows.append(measure("floor, 1 worker", server, args, wrk_env, "same bytes, one GET"))
        finally:
            asyncio.run(store(None))

        print("cached, 2 workers")
        with serve(factory, server_env(database_url), 2, logs) as server:
            for _ in range(4):  # both workers answer from the shared cache
                assert (cache_note(post(server, token, body)) or {}).get("hit") is True
            rows.append(measure("cached, 2 workers", server, args, wrk_env))

    print()
    print(f"{args.runs} runs of {args.duration} s each, {args.connections} connections, medians:")
    print()
    print("| scenario | requests/s | p50 ms | p99 ms | cores: server / wrk / redis+pg / other | note |")
    print("|---|---:|---:|---:|---|---|")
    for row in rows:
        cpu = " / ".join(f"{row.cpu(part):.2f}" for part in ("server", "wrk", "services", "other"))
        print(
            f"| {row.name} | {row.median('requests_per_s'):,.0f} | {row.median('p50_ms'):.2f} | "
            f"{row.median('p99_ms'):.2f} | {cpu} | {row.note} |"
        )
    print()
    for row in rows:
        print(f"- {row.name}: {row.command}")
    print(f"\nresponse: {len(cached_bytes)} bytes")


if __name__ == "__main__":
    main()
