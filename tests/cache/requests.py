"""Requests to an app started in the test, and a count of the statements its executor runs."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.applications import Starlette

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def post(app: Starlette, query: str, token: str) -> dict[str, Any]:
    """The body of a 200 answer without errors."""
    headers = {"accept": GRAPHQL_RESPONSE, "authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cohort.test"
    ) as client:
        response = await client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    return body


def count_statements(app: Starlette, delay_s: float = 0.1) -> list[int]:
    """Counts the statements the app's executor runs, each held `delay_s` longer so that
    concurrent requests arrive while it runs."""
    executor = app.state.cohort.executor
    calls = [0]
    run = executor.run

    async def counting(query: Any, budget: float | None = None) -> Any:
        calls[0] += 1
        await asyncio.sleep(delay_s)
        return await run(query, budget)

    executor.run = counting
    return calls
