"""The executor: statement timeouts cancel SQL, an unreachable database is a clear error."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from resolvers.errors import ExecutionError, QueryTimeoutError
from resolvers.executor import Executor, create_engine
from resolvers.service import QueryService
from schema.query import EffectiveQuery, SemanticQuery
from schema.validator import registry_from_texts

pytestmark = pytest.mark.integration

SLOW = """
model: slow
sql: "select 1 as id from pg_sleep(2)"
primary_key: id
measures:
  count: {type: count}
"""


async def test_statement_timeout_cancels_the_query(database_url: str) -> None:
    engine = create_engine(database_url, statement_timeout_ms=100)
    service = QueryService(registry_from_texts({"slow.yml": SLOW}), Executor(engine))
    try:
        with pytest.raises(QueryTimeoutError) as caught:
            await service.run(EffectiveQuery(SemanticQuery("slow", measures=("count",))))
        assert caught.value.code == "TIMEOUT"
        # The pool's connection is still usable afterwards.
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert await raw.driver_connection.fetchval("select 1") == 1
    finally:
        await engine.dispose()


async def test_unreachable_database_is_an_execution_error(database_url: str) -> None:
    url = make_url(database_url).set(host="127.0.0.1", port=1).render_as_string(hide_password=False)
    engine = create_engine(url, statement_timeout_ms=1000, pool_timeout_s=1)
    service = QueryService(registry_from_texts({"slow.yml": SLOW}), Executor(engine))
    try:
        with pytest.raises(ExecutionError) as caught:
            await service.run(EffectiveQuery(SemanticQuery("slow", measures=("count",))))
        assert caught.value.code == "INTERNAL_SERVER_ERROR"
    finally:
        await engine.dispose()
