"""Text dimensions stored as uuid (or another type) compare with client values: the
parameters are typed by PostgreSQL from the column, and a value the type refuses is a
client error, not an internal one."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from resolvers.errors import QueryError
from schema.query import Condition, SemanticQuery
from schema.validator import registry_from_texts
from tests.resolvers.oracle import oracle, run

pytestmark = pytest.mark.integration

TICKETS = {
    "tickets.yml": """
model: tickets
sql: "select id, md5(id::text)::uuid as ref from generate_series(1, 20) as id"
primary_key: id
dimensions:
  ref: {type: string}
measures:
  count: {type: count}
"""
}


def _count(*conditions: Condition) -> SemanticQuery:
    return SemanticQuery("tickets", measures=("count",), filters=conditions)


async def test_uuid_column_filters(engine: AsyncEngine) -> None:
    registry = registry_from_texts(TICKETS)
    [(one,), (two,)] = await oracle(engine, "select md5(i::text)::uuid::text from generate_series(3, 4) i")
    for condition, expected in (
        (Condition("ref", "equals", (one,)), 1),
        (Condition("ref", "in", (one, two)), 2),
        (Condition("ref", "notIn", (one, two)), 18),
        (Condition("ref", "notEquals", (one,)), 19),
        (Condition("ref", "startsWith", (one[:8],)), 1),
    ):
        result = await run(registry, engine, _count(condition))
        assert [tuple(row) for row in result.rows] == [(expected,)], condition


@pytest.mark.parametrize("value", ["not-a-uuid", "1234"])
async def test_a_value_the_column_type_refuses_is_a_client_error(engine: AsyncEngine, value: str) -> None:
    registry = registry_from_texts(TICKETS)
    with pytest.raises(QueryError, match="does not fit its column") as caught:
        await run(registry, engine, _count(Condition("ref", "equals", (value,))))
    assert caught.value.code == "BAD_USER_INPUT"
