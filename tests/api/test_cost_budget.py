"""Cost budgets on the request path: a query whose estimated cost is over the principal's
budget is refused (QUERY_TOO_EXPENSIVE) before it runs; the demo roles' budgets allow the
demo queries; cached results need no estimate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import EXAMPLE_QUERY
from api.settings import Settings
from authz.enforcer import PolicyEnforcer
from authz.policy_store import DEFAULT_POLICY, read_policy_file
from authz.principal import Principal
from resolvers.cost import explain
from resolvers.executor import Executor
from resolvers.service import QueryService
from schema.query import DimensionRef, EffectiveQuery, SemanticQuery
from schema.registry import Registry
from tests.databases import redis_url
from tests.serving import serving
from tests.tokens import Mint

pytestmark = pytest.mark.integration

SMALL = "{ courses { count } }"
BIG = "{ progressEvents { learner { id } course { id } count } }"  # every event, grouped finely

# The queries of the README and the GraphiQL start page.
DEMO_QUERIES: list[tuple[str, dict[str, Any] | None]] = [
    (EXAMPLE_QUERY, None),
    (
        """query CompletionBySubject($from: String!, $to: String!) {
          enrollments(
            where: { enrolledAt: { inDateRange: [$from, $to] }
                     course: { subject: { in: ["Data Science", "Business"] } }
                     OR: [{ status: { equals: "completed" } }, { progress: { gte: 50 } }] }
            orderBy: [{ enrolledAt: ASC }, { count: DESC }] timezone: "Europe/London" limit: 100
          ) { enrolledAt { month } course { subject partner { name } } count completionRate avgProgress }
        }""",
        {"from": "2025-01-01", "to": "2025-06-30"},
    ),
    (
        """{ moduleFunnel(where: { course: { id: { equals: 12 } } },
                          orderBy: [{ module: { position: ASC } }]) {
            module { position title } learnersReached learnersCompleted stepCompletionRate } }""",
        None,
    ),
    (
        "{ feedback(where: { responses: { gte: 30 } }, orderBy: [{ nps: DESC }]) "
        "{ course { partner { name } } responses avgRating nps } }",
        None,
    ),
    (
        "{ skillScores(orderBy: [{ assessedAt: ASC }]) "
        "{ skill { category } assessedAt { quarter } avgScore learners } }",
        None,
    ),
    (
        "query { active: enrollments(segments: [ACTIVE]) { ...Totals } all: enrollments { ...Totals } } "
        "fragment Totals on Enrollments { count learners avgProgress }",
        None,
    ),
]


async def _estimate(engine: AsyncEngine, registry: Registry, query: SemanticQuery) -> float:
    compiled = QueryService(registry, Executor(engine)).compile(EffectiveQuery(query))
    async with engine.connect() as conn:
        connection = (await conn.get_raw_connection()).driver_connection
        return float((await explain(connection, compiled, timeout_s=5))["Total Cost"])


def _frugal(budget: float) -> PolicyEnforcer:
    """The demo policy plus a role that reads everything on a small budget."""
    rules = [
        *read_policy_file(DEFAULT_POLICY),
        ("p", "role:frugal", "*", "*", "read", "allow"),
        ("p2", "role:frugal", "*", "*", "*", "*"),
        ("p4", "role:frugal", "*", repr(budget)),
    ]
    return PolicyEnforcer(rules, version=10_000)


async def _post(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_small_budget_refuses_a_big_scan_and_allows_a_small_query(
    settings: Settings, database_url: str, engine: AsyncEngine, registry: Registry, mint: Mint
) -> None:
    small = await _estimate(engine, registry, SemanticQuery("courses", measures=("count",)))
    big = await _estimate(
        engine,
        registry,
        SemanticQuery(
            "progress_events",
            measures=("count",),
            dimensions=(DimensionRef("learner.id"), DimensionRef("course.id")),
        ),
    )
    assert big > 10 * small
    budget = (small * big) ** 0.5
    headers = {"authorization": f"Bearer {mint(roles=['frugal'])}"}
    async with serving(settings, database_url, headers) as client:
        state = client.app.state.cohort  # type: ignore[attr-defined]
        state.policies.current = _frugal(budget)
        ran: list[float] = []
        state.executor.observe = ran.append
        refused = await _post(client, BIG)
        assert refused["data"] is None
        (error,) = refused["errors"]
        assert error["extensions"]["code"] == "QUERY_TOO_EXPENSIVE"
        assert f"{big:,.0f}" in error["message"] and f"{budget:,.0f}" in error["message"]
        assert ran == []  # refused before it ran
        allowed = await _post(client, SMALL)
        assert "errors" not in allowed and allowed["data"]["courses"][0]["count"] > 0
        assert len(ran) == 1


@pytest.mark.parametrize(
    ("tenant", "roles"),
    [("cohort-platform", ["platform_admin"]), ("northbridge-university", ["university_admin"])],
)
async def test_the_default_budgets_allow_the_demo_queries(
    settings: Settings, database_url: str, mint: Mint, tenant: str, roles: list[str]
) -> None:
    headers = {"authorization": f"Bearer {mint(tenant=tenant, roles=roles)}"}
    async with serving(settings, database_url, headers) as client:
        state = client.app.state.cohort  # type: ignore[attr-defined]
        principal = Principal(subject="user:tester", tenant=tenant, roles=tuple(roles))
        assert state.authorizer.cost_budget(principal) is not None  # a budget applies
        for query, variables in DEMO_QUERIES:
            body = await _post(client, query, variables)
            assert "errors" not in body, (query, body["errors"])
        assert state.executor.costs.explained >= len(DEMO_QUERIES)  # the budget was checked


@pytest.fixture
async def cached(settings: Settings, database_url: str, mint: Mint) -> AsyncIterator[httpx.AsyncClient]:
    keep: list[object] = []
    configured = replace(settings, redis_url=redis_url(keep), cache=True)
    async with serving(configured, database_url, {"authorization": f"Bearer {mint()}"}) as client:
        await client.app.state.cohort.caching.cache.flush()  # type: ignore[attr-defined]
        yield client


async def test_cached_results_need_no_estimate(cached: httpx.AsyncClient) -> None:
    costs = cached.app.state.cohort.executor.costs  # type: ignore[attr-defined]
    query = "{ enrollments(limit: 791) { status count } }"
    first = await _post(cached, query)
    assert first["extensions"]["cache"]["enrollments"]["hit"] is False
    explained = costs.explained
    assert explained >= 1
    costs._entries.clear()  # so that an estimate would have to be asked for again
    second = await _post(cached, query)
    assert second["extensions"]["cache"]["enrollments"]["hit"] is True
    assert costs.explained == explained
