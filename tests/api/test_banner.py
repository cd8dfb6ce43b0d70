"""The start-up banner shows a query that runs on the models actually served."""

from __future__ import annotations

import httpx
import orjson
import pytest

from api.banner import banner, example_query
from schema.registry import Registry
from schema.validator import registry_from_texts

pytestmark = pytest.mark.integration

OTHER = {
    "shipments.yml": """
model: shipments
table: shipments
primary_key: id
dimensions:
  carrier: {type: string}
measures:
  count: {type: count}
"""
}


async def test_the_example_query_runs_on_the_demo_models(
    client: httpx.AsyncClient, registry: Registry
) -> None:
    query = example_query(registry)
    assert query is not None
    response = await client.post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    [rows] = data.values()
    assert rows and all(isinstance(row["count"], int) for row in rows)


def test_another_warehouse_gets_its_own_example_and_no_demo_token() -> None:
    registry = registry_from_texts(OTHER)
    lines = banner("http://127.0.0.1:8000", registry, None, "nobody", graphiql=False)
    text = "\n".join(lines)
    assert "enrollments" not in text and "export TOKEN" not in text
    curl = next(line for line in lines if "curl" in line)
    body = orjson.loads(curl.split("-d ", 1)[1].strip("'"))
    assert body == {"query": "{ shipments(orderBy: [{count: DESC}], limit: 5) { carrier count } }"}
