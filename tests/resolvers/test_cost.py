"""Cost estimates: PostgreSQL's EXPLAIN of the compiled statement with its parameters bound
(never spliced into the text), kept per statement and parameters."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from resolvers.compiler import CompiledQuery
from resolvers.cost import CostEstimates, explain
from resolvers.errors import QueryTooExpensive
from resolvers.executor import Executor
from resolvers.service import QueryService
from schema.query import Condition, EffectiveQuery, SemanticQuery
from schema.registry import Registry

pytestmark = pytest.mark.integration

# Quotes and a comment: spliced into the SQL text, it would change the statement or break it.
HOSTILE = "zz-marker' OR '1'='1' --"


class _Spy:
    """The real asyncpg connection, noting the text of each statement it prepares."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.prepared: list[str] = []

    async def prepare(self, sql: str, **kwargs: Any) -> Any:
        self.prepared.append(sql)
        return await self.connection.prepare(sql, **kwargs)


def _by_status(service: QueryService, status: str) -> CompiledQuery:
    query = SemanticQuery(
        "enrollments", measures=("count",), filters=(Condition("status", "equals", (status,)),)
    )
    return service.compile(EffectiveQuery(query))


async def test_explain_binds_client_values_and_the_planner_sees_them(
    engine: AsyncEngine, registry: Registry
) -> None:
    service = QueryService(registry, Executor(engine))
    common, hostile = _by_status(service, "completed"), _by_status(service, HOSTILE)
    assert common.sql == hostile.sql and HOSTILE in hostile.params
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        spy = _Spy(raw.driver_connection)
        common_plan = await explain(spy, common, timeout_s=5)  # type: ignore[arg-type]
        hostile_plan = await explain(spy, hostile, timeout_s=5)  # type: ignore[arg-type]
    assert spy.prepared == ["EXPLAIN (FORMAT JSON) " + common.sql] * 2
    assert (
        "$1" in spy.prepared[0] and "zz-marker" not in spy.prepared[1] and "completed" not in spy.prepared[0]
    )

    def scanned_rows(plan: dict[str, Any]) -> float:
        while "Plans" in plan:
            plan = plan["Plans"][0]
        return float(plan["Plan Rows"])

    # The value took part in planning: a common status is estimated at many rows, the
    # hostile string (a plain value, matching nothing) at about one.
    assert scanned_rows(common_plan) > 10 * scanned_rows(hostile_plan)
    assert scanned_rows(hostile_plan) <= 2


async def test_estimates_are_kept_per_statement_and_parameters(
    engine: AsyncEngine, registry: Registry
) -> None:
    executor = Executor(engine)
    service = QueryService(registry, executor)
    completed, active = _by_status(service, "completed"), _by_status(service, "active")
    first = await executor.run(completed, budget=1e12)
    assert executor.costs.explained == 1
    assert (await executor.run(completed, budget=1e12)).rows == first.rows
    assert executor.costs.explained == 1  # the estimate came from memory
    await executor.run(active, budget=1e12)
    assert executor.costs.explained == 2  # other parameters, another estimate
    await executor.run(active)  # no budget: no estimate at all
    assert executor.costs.explained == 2


async def test_an_estimate_over_the_budget_is_refused_before_the_query_runs(
    engine: AsyncEngine, registry: Registry
) -> None:
    ran: list[float] = []
    executor = Executor(engine, observe=ran.append)
    compiled = _by_status(QueryService(registry, executor), "completed")
    with pytest.raises(QueryTooExpensive) as caught:
        await executor.run(compiled, budget=1.0)
    assert caught.value.code == "QUERY_TOO_EXPENSIVE"
    assert "over your budget of 1" in str(caught.value)
    assert ran == []  # nothing ran
    checkouts: list[object] = []

    def checked_out(*args: object) -> None:
        checkouts.append(args)

    event.listen(engine.sync_engine, "checkout", checked_out)
    try:
        with pytest.raises(QueryTooExpensive):
            await executor.run(compiled, budget=1.0)
        assert checkouts == []  # a known refusal takes no connection from the pool
        await executor.run(compiled, budget=1e12)
        assert len(ran) == 1 and len(checkouts) == 1
    finally:
        event.remove(engine.sync_engine, "checkout", checked_out)


async def test_estimates_expire(engine: AsyncEngine, registry: Registry) -> None:
    """Statistics move as tables grow: an estimate is asked for again after its ttl."""
    now = [0.0]
    estimates = CostEstimates(ttl_s=10, clock=lambda: now[0])
    compiled = _by_status(QueryService(registry, Executor(engine)), "completed")
    async with engine.connect() as conn:
        connection = (await conn.get_raw_connection()).driver_connection
        first = await estimates.cost(connection, compiled, timeout_s=5)
        now[0] = 9.0
        assert await estimates.cost(connection, compiled, timeout_s=5) == first
        assert estimates.explained == 1
        now[0] = 11.0
        assert await estimates.cost(connection, compiled, timeout_s=5) == first
        assert estimates.explained == 2
