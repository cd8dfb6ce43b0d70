"""Compile time per semantic query, and its share of the query's execution time.

    make bench            # or: .venv/bin/python -m bench.compile_time [--runs 200]

Runs against DATABASE_URL (or the embedded PostgreSQL), seeding the default demo scale
first if the warehouse is empty. Prints a Markdown table for bench/README.md.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from api.demo.load import is_seeded, seed_demo
from api.migrations import upgrade
from api.services import start_services
from api.settings import Settings
from resolvers.compiler import compile_plan
from resolvers.database import DatabaseTimeouts
from resolvers.executor import Executor, create_engine
from resolvers.planner import plan
from schema.validator import load_registry
from tests.resolvers.queries import SNAPSHOT_QUERIES

T = TypeVar("T")


def _median_seconds(work: Callable[[], T], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def _main(compile_runs: int, execute_runs: int) -> None:
    settings = Settings.from_env()
    services = start_services(settings)
    registry = load_registry(settings.models_dir)
    engine = create_engine(services.database_url, DatabaseTimeouts(statement_s=60), bulk=True)
    await upgrade(engine)
    if not await is_seeded(engine):
        await seed_demo(engine, scale="default", seed=settings.demo_seed, progress=True)
    executor = Executor(engine)
    print("| query | plan + compile (µs) | execute (ms) | compile / execute |")
    print("|---|---:|---:|---:|")
    for name, query in SNAPSHOT_QUERIES.items():
        compile_s = _median_seconds(lambda q=query: compile_plan(plan(registry, q)), compile_runs)  # type: ignore[misc]
        compiled = compile_plan(plan(registry, query))
        await executor.run(compiled)  # warm the connection and the plan cache
        samples = []
        for _ in range(execute_runs):
            start = time.perf_counter()
            await executor.run(compiled)
            samples.append(time.perf_counter() - start)
        execute_s = statistics.median(samples)
        print(f"| {name} | {compile_s * 1e6:,.0f} | {execute_s * 1e3:,.2f} | {compile_s / execute_s:.1%} |")
    await engine.dispose()


def main(
    runs: Annotated[int, typer.Option(help="Compilations per query.")] = 200,
    executions: Annotated[int, typer.Option(help="Executions per query.")] = 10,
) -> None:
    asyncio.run(_main(runs, executions))


if __name__ == "__main__":
    typer.run(main)
