"""What the cost budget adds to a query: PostgreSQL's EXPLAIN before the statement runs.

    .venv/bin/python -m bench.cost_estimate [--runs 20]

For each representative query (tests/resolvers/queries.py, plus a one-row lookup where the
overhead weighs most), the median time of one `Executor.run` in three ways, in the same
run and on the same connection pool:
- no budget: the floor, the statement alone;
- a budget, the estimate not known yet: EXPLAIN (FORMAT JSON) with the parameters bound,
  then the statement (what the first run of a new query pays);
- a budget, the estimate known (`CostEstimates`): a lookup in memory, then the statement
  (what every repeat pays until the estimate expires after 10 minutes).
Prints a Markdown table for bench/README.md. Runs against DATABASE_URL (or the embedded
PostgreSQL) with the demo data at default scale (`make run` or `cohort seed` loads it).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer

from api.services import start_services
from api.settings import Settings
from resolvers.compiler import CompiledQuery, compile_plan
from resolvers.database import DatabaseTimeouts
from resolvers.executor import Executor, create_engine
from resolvers.planner import plan
from schema.query import Condition, EffectiveQuery, SemanticQuery
from schema.validator import load_registry
from tests.resolvers.queries import SNAPSHOT_QUERIES

BUDGET = 1e15  # never refuses: only the cost of estimating is measured


async def _median_ms(work: Callable[[], Awaitable[Any]], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


async def _measure(executor: Executor, compiled: CompiledQuery, runs: int) -> tuple[float, float, float]:
    async def floor() -> Any:
        return await executor.run(compiled)

    async def explained() -> Any:
        executor.costs._entries.clear()
        return await executor.run(compiled, BUDGET)

    async def known() -> Any:
        return await executor.run(compiled, BUDGET)

    for work in (floor, explained, known):  # warm the connections and PostgreSQL's caches
        await work()
    # Interleaved, so that a slow moment of the machine weighs on the three alike.
    samples: dict[str, list[float]] = {"floor": [], "explained": [], "known": []}
    for _ in range(runs):
        samples["floor"].append(await _median_ms(floor, 1))
        samples["explained"].append(await _median_ms(explained, 1))
        samples["known"].append(await _median_ms(known, 1))
    return (
        statistics.median(samples["floor"]),
        statistics.median(samples["explained"]),
        statistics.median(samples["known"]),
    )


async def _main(runs: int) -> None:
    settings = Settings.from_env()
    services = start_services(settings)
    registry = load_registry(settings.models_dir)
    engine = create_engine(services.database_url, DatabaseTimeouts(statement_s=60), pool_size=2)
    executor = Executor(engine, timeouts=DatabaseTimeouts(statement_s=60))
    queries = {
        "one_course_by_id (one row)": EffectiveQuery(
            SemanticQuery("courses", measures=("count",), filters=(Condition("id", "equals", (1,)),))
        ),
        **SNAPSHOT_QUERIES,
    }
    print(
        "| query | estimated cost | no budget (ms) | + EXPLAIN (ms) | ratio | + known estimate (ms) | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    explained_ratios, known_ratios = [], []
    for name, query in queries.items():
        compiled = compile_plan(plan(registry, query))
        floor, explained, known = await _measure(executor, compiled, runs)
        explained_ratios.append(explained / floor)
        known_ratios.append(known / floor)
        cost = list(executor.costs._entries.values())[-1][0]  # this query's, the last one added
        print(
            f"| {name} | {cost:,.0f} | {floor:.2f} | {explained:.2f} | {explained / floor:.2f} "
            f"| {known:.2f} | {known / floor:.2f} |"
        )
    print(
        f"\nmedian ratio: {statistics.median(explained_ratios):.2f} with EXPLAIN, "
        f"{statistics.median(known_ratios):.2f} with a known estimate"
    )
    await engine.dispose()


def main(runs: Annotated[int, typer.Option(help="Runs per query and way.")] = 20) -> None:
    asyncio.run(_main(runs))


if __name__ == "__main__":
    typer.run(main)
