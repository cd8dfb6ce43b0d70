"""Cached queries under load: a real uvicorn server on 127.0.0.1, driven by wrk.

    .venv/bin/python -m bench.cache_load [--duration 10] [--connections 32] [--threads 2] [--runs 3]

Scenarios (SCENARIOS below), each against a fresh server process:

1. cached: a dashboard query answered from the result cache (warmed first), 1 worker;
2. uncached: the same query with COHORT_CACHE=false, so every request runs its SQL;
3. floor: a plain Starlette endpoint (`floor_app` below) that answers every POST with the
   cached query's exact response bytes, read from Redis (one GET) on each request: the
   least an HTTP + Redis answer costs on this stack;
4. cached with rate limiting on (a bucket that never empties): what the check costs, and
   how often it fails open under load;
5. cached with `--workers 2`, as uvicorn ships it;
6. and 7. cached and floor with 2 workers started through `uvicorn_nodelay` below, which
   gives the workers' accepted sockets TCP_NODELAY again (see its docstring).

Each scenario: one 1-connection run (latency without queueing), warm-up load, then `--runs`
wrk runs; the CPU used during each run is split between the server, wrk, Redis+PostgreSQL
and everything else (a run disturbed by other processes is run again).

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
SINGLE_S = 3  # seconds of the one-connection run

# A dashboard table: enrollments and completion by course and month over a year, in London
# time, for a university admin (the tenant scope is added by the access policy): 240 rows,
# about 50 KB.
QUERY = """query Dashboard {
  enrollments(
    where: { enrolledAt: { inDateRange: ["2025-01-01", "2025-12-31"] } }
    orderBy: [{ enrolledAt: ASC }, { count: DESC }]
    timezone: "Europe/London"
    limit: 240
  ) {
    enrolledAt { month }
    course { subject title }
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


# --- uvicorn --workers N with TCP_NODELAY -----------------------------------------------


def uvicorn_nodelay(argv: list[str]) -> None:
    """`python -m bench.cache_load uvicorn-nodelay <uvicorn options>`: uvicorn's own command
    line, with the listening socket that `--workers N` binds in the supervisor created as
    IPPROTO_TCP. uvicorn creates it with proto 0; accepted sockets inherit that, and asyncio
    then leaves Nagle's algorithm on (it sets TCP_NODELAY only when proto is IPPROTO_TCP), so
    on a keep-alive connection each response's body (written after its headers) waits for the
    client's delayed ACK, about 40 ms on Linux. One worker is not affected: asyncio binds
    that socket itself, from getaddrinfo, which gives proto 6."""
    import uvicorn.config
    import uvicorn.main

    bind_socket = uvicorn.config.Config.bind_socket

    def bind_tcp_socket(config: uvicorn.config.Config) -> socket.socket:
        sock = bind_socket(config)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
            sock.set_inheritable(True)
        return sock

    uvicorn.config.Config.bind_socket = bind_tcp_socket  # type: ignore[method-assign,assignment]
    uvicorn.main.main(argv, prog_name="uvicorn")


# --- the database ------------------------------------------------------------------------


async def ensure_database(url: str) -> Any:
    """The asyncpg URL of `url`'s database, created first when missing."""
    from api.services import asyncpg_url

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
    return target


async def prepare_database(url: str) -> None:
    """Create, migrate, seed (default scale) and load the demo policy where missing."""
    from api.demo.load import is_seeded, seed_demo
    from api.migrations import upgrade
    from authz.policy_store import PolicyStore

    target = await ensure_database(url)
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


def uvicorn_command(factory: str, port: int, workers: int, nodelay: bool = False) -> list[str]:
    launcher = ["bench.cache_load", "uvicorn-nodelay"] if nodelay else ["uvicorn"]
    command = [
        sys.executable,
        "-m",
        *launcher,
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
    disconnects: int = 0  # ClientDisconnect tracebacks in the log (known after the server stops)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve(
    factory: str, env: dict[str, str], workers: int, logs: Path, nodelay: bool = False
) -> Iterator[Server]:
    port = free_port()
    command = uvicorn_command(factory, port, workers, nodelay)
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
    output = server.output()
    # wrk closes its connections when its time is up; a request still queued then finds its
    # client gone when it reads the body, and uvicorn logs Starlette's ClientDisconnect as an
    # error. Those are counted; any other error stops the bench.
    server.disconnects = output.count("starlette.requests.ClientDisconnect")
    if output.count("Traceback") > server.disconnects:
        raise SystemExit(f"the server logged an error:\n{output}")


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
    """One worker's cache and rate limiter counters, from /metrics: `hit`, `miss` and
    `redis_failure` add up the response cache (answers before GraphQL) and the result cache."""
    metrics = httpx.get(f"{server.base}/metrics", timeout=5.0).text
    counts: dict[str, float] = {}
    for cache in ("response", "result"):
        pattern = rf'^cohort_{cache}_cache\{{outcome="(\w+)"\}} ([0-9.e+]+)$'
        for outcome, value in re.findall(pattern, metrics, re.MULTILINE):
            counts[f"{cache}_{outcome}"] = float(value)
            counts[outcome] = counts.get(outcome, 0.0) + float(value)
    for name in ("redis_failures", "degraded_checks"):
        value = re.search(rf"^cohort_rate_limit_{name} ([0-9.e+]+)$", metrics, re.MULTILINE)
        counts[f"rate_limit_{name}"] = float(value.group(1)) if value else 0.0
    return counts


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
    workers: tuple[float, ...] = ()  # the busiest server processes, one by one (the split between workers)


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
        per_process = []
        for pid, (name, group, ticks) in _process_ticks().items():
            before = self.processes.get(pid)
            used = ticks - (before[2] if before and before[0] == name else 0)
            if group == self.server_group:
                server += used
                per_process.append(used / TICKS / seconds)
            elif name in SERVICES:
                services += used
            elif pid == os.getpid():
                mine += used
        other = max(0.0, busy - server - services - mine - wrk)
        server_s, wrk_s, services_s, other_s = (
            ticks / TICKS / seconds for ticks in (server, wrk, services, other)
        )
        busiest = tuple(sorted((share for share in per_process if share >= 0.01), reverse=True))
        self.use = CpuUse(server_s, wrk_s, services_s, other_s, workers=busiest)


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
    single: Load  # one connection: the latency of a request that never waits for another
    note: str = ""

    def median(self, field: str) -> float:
        return float(statistics.median(getattr(load, field) for load in self.loads))

    def cpu(self, part: str) -> float:
        return float(statistics.median(getattr(load.cpu, part) for load in self.loads if load.cpu))


def measure(name: str, server: Server, args: argparse.Namespace, wrk_env: dict[str, str]) -> Row:
    url = f"{server.base}/graphql"
    wait_for_quiet(args.quiet_wait)
    single, _ = run_wrk(wrk_command(url, 1, 1, SINGLE_S), wrk_env, SINGLE_S)
    print(f"  {name}, 1 connection: {single.requests_per_s:,.0f} req/s, p50 {single.p50_ms:.2f} ms")
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
                f"redis+postgres {meter.use.services:.2f}, other {meter.use.other:.2f}; "
                f"per server process: {' + '.join(f'{share:.2f}' for share in meter.use.workers)}"
            )
            if meter.use.other <= MAX_OTHER_CORES:
                break
            print(f"  other processes took {meter.use.other:.2f} cores: run again")
        loads.append(load)
    port = server.base.rsplit(":", 1)[1]
    shown_server = " ".join(server.command).replace(sys.executable, ".venv/bin/python")
    shown_server = shown_server.replace(f"--port {port}", "--port PORT")
    shown_wrk = " ".join(command).replace(server.base, "http://127.0.0.1:PORT")
    return Row(name, f"`{shown_server}` then `{shown_wrk}`", loads, single)


@dataclass(frozen=True)
class Scenario:
    name: str
    factory: str
    workers: int = 1
    cache: bool = True
    nodelay: bool = False
    rate_limit: bool = False  # a bucket so large it never refuses: the cost of the check alone


COHORT = "api.app:app_from_env"
FLOOR = "bench.cache_load:floor_app"
SCENARIOS = (
    Scenario("cached, 1 worker", COHORT),
    Scenario("uncached (COHORT_CACHE=false), 1 worker", COHORT, cache=False),
    Scenario("floor: Starlette + Redis GET, 1 worker", FLOOR),
    Scenario("cached, 1 worker, rate limiting on", COHORT, rate_limit=True),
    Scenario("cached, 2 workers (`--workers 2`)", COHORT, workers=2),
    Scenario("cached, 2 workers, TCP_NODELAY restored", COHORT, workers=2, nodelay=True),
    Scenario("floor, 2 workers, TCP_NODELAY restored", FLOOR, workers=2, nodelay=True),
)


def run_scenario(
    scenario: Scenario,
    database_url: str,
    logs: Path,
    args: argparse.Namespace,
    token: str,
    body: bytes,
    wrk_env: dict[str, str],
    cached_bytes: bytes | None,
) -> tuple[Row, bytes]:
    """Start the server, check that it answers what the scenario says, measure, stop it."""
    env = server_env(database_url, COHORT_CACHE=str(scenario.cache).lower())
    if scenario.rate_limit:
        env.update(COHORT_RATE_LIMIT_PER_MINUTE=str(10**9), COHORT_RATE_LIMIT_BURST=str(10**9))
    print(scenario.name)
    notes = []
    with serve(scenario.factory, env, scenario.workers, logs, scenario.nodelay) as server:
        if scenario.factory == FLOOR:
            answer = httpx.post(f"{server.base}/graphql", content=body, timeout=10.0)
            assert answer.content == cached_bytes, answer.content[:200]
            notes.append("the same bytes")
        else:
            answer = post(server, token, body)
            if scenario.cache:
                for _ in range(2 * scenario.workers):  # every worker answers from the shared cache
                    answer = post(server, token, body)
                    assert (cache_note(answer) or {}).get("hit") is True, answer.text
            else:
                assert cache_note(answer) is None, answer.text
                notes.append("SQL on every request")
            if cached_bytes is not None:
                assert orjson.loads(answer.content)["data"] == orjson.loads(cached_bytes)["data"]
        row = measure(scenario.name, server, args, wrk_env)
        if scenario.cache and scenario.factory != FLOOR:
            counts = cache_counts(server)
            hits, misses, failures = (counts.get(k, 0.0) for k in ("hit", "miss", "redis_failure"))
            if misses + failures > 0.01 * hits:
                raise SystemExit(f"the cached run was not served from the cache: {counts}")
            whose = "" if scenario.workers == 1 else " (one worker's counters)"
            notes.append(
                f"{counts.get('response_hit', 0):,.0f} answers before GraphQL, {hits:,.0f} hits in all, "
                f"{misses:.0f} misses, {failures:.0f} Redis timeouts{whose}"
            )
            if scenario.rate_limit:
                requests = counts.get("response_hit", 0) + counts.get("response_miss", 0)
                undecided = counts["rate_limit_degraded_checks"]
                notes.append(
                    f"rate limiter: {counts['rate_limit_redis_failures']:.0f} Redis timeouts, "
                    f"{undecided:,.0f} of {requests:,.0f} requests allowed without a decision "
                    f"({1 - undecided / max(1.0, requests):.2%} decided)"
                )
    if scenario.workers > 1:
        splits = ", ".join(" + ".join(f"{c:.2f}" for c in load.cpu.workers) for load in row.loads if load.cpu)
        notes.append(f"cores per worker, each run: {splits}")
    if server.disconnects:
        notes.append(f"{server.disconnects} ClientDisconnect tracebacks logged at wrk's stops")
    return replace(row, note="; ".join(notes)), answer.content


def main() -> None:
    if sys.argv[1:2] == ["uvicorn-nodelay"]:
        uvicorn_nodelay(sys.argv[2:])
        return
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
    parser.add_argument("--only", help="run only the scenarios whose name matches this regular expression")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    from api.auth.jwt_verifier import mint_token
    from api.rate_limit import redis_client
    from api.settings import AuthSettings

    async def store(value: bytes | None) -> None:
        client = redis_client(REDIS_URL, timeout_s=5.0)
        try:
            if value is None:
                await client.delete(FLOOR_KEY)
            else:
                await client.set(FLOOR_KEY, value)
        finally:
            await client.aclose()

    database_url = os.environ.get("DATABASE_URL") or BENCH_DATABASE
    asyncio.run(prepare_database(database_url))
    rows: list[Row] = []
    cached_bytes: bytes | None = None
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
        try:
            for scenario in SCENARIOS:
                if args.only and not re.search(args.only, scenario.name) and cached_bytes is not None:
                    continue  # the first scenario always runs: the floor serves its answer
                row, answer = run_scenario(
                    scenario, database_url, logs, args, token, body, wrk_env, cached_bytes
                )
                rows.append(row)
                if cached_bytes is None:  # the first scenario's cached answer, for the floor
                    cached_bytes = answer
                    asyncio.run(store(cached_bytes))
        finally:
            asyncio.run(store(None))

    print()
    print(f"{args.runs} runs of {args.duration} s each at {args.connections} connections (medians):")
    print()
    print(
        "| scenario | requests/s | p50 ms | p99 ms | p50 ms, 1 connection | "
        "cores: server / wrk / redis+pg / other | note |"
    )
    print("|---|---:|---:|---:|---:|---|---|")
    for row in rows:
        cpu = " / ".join(f"{row.cpu(part):.2f}" for part in ("server", "wrk", "services", "other"))
        print(
            f"| {row.name} | {row.median('requests_per_s'):,.0f} | {row.median('p50_ms'):.2f} | "
            f"{row.median('p99_ms'):.2f} | {row.single.p50_ms:.2f} | {cpu} | {row.note} |"
        )
    floor = next((row for row in rows if row.name.startswith("floor") and "2 workers" not in row.name), None)
    if floor is not None:
        print()
        for row in rows:
            if row is not floor and "1 worker" in row.name:
                ratio = row.median("requests_per_s") / floor.median("requests_per_s")
                print(f"- {row.name}: {ratio:.2f} of the 1-worker floor's requests/s")
    print()
    for row in rows:
        print(f"- {row.name}: {row.command}")
    print(f"\nresponse: {len(cached_bytes or b'')} bytes")


if __name__ == "__main__":
    main()
