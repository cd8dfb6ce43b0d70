"""One end-to-end query through the HTTP layer, compared with SQL."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.resolvers.oracle import oracle

pytestmark = pytest.mark.integration


async def test_enrollments_by_subject_match_sql(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ enrollments(limit: 50000) { course { subject } count completionRate } }"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    rows = response.json()["data"]["enrollments"]
    got = {row["course"]["subject"]: (row["count"], row["completionRate"]) for row in rows}
    expected = await oracle(
        engine,
        "select c.subject, count(*), avg((e.status = 'completed')::int)::float8 "
        "from enrollments e join courses c on c.id = e.course_id group by 1",
    )
    assert got.keys() == {subject for subject, _, _ in expected}
    for subject, count, rate in expected:
        assert got[subject][0] == count
        assert got[subject][1] == pytest.approx(rate)
