"""The executor: statement timeouts cancel SQL, an unreachable database is a clear error."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from resolvers.database import DatabaseTimeouts, DatabaseUnavailable
from resolvers.errors import QueryTimeoutError
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
    timeouts = DatabaseTimeouts(statement_s=0.1)
    engine = create_engine(database_url, timeouts)
    service = QueryService(registry_from_texts({"slow.yml": SLOW}), Executor(engine, timeouts=timeouts))
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


async def test_unreachable_database_is_service_unavailable(database_url: str) -> None:
    url = make_url(database_url).set(host="127.0.0.1", port=1).render_as_string(hide_password=False)
    timeouts = DatabaseTimeouts(statement_s=1, pool_s=1)
    engine = create_engine(url, timeouts)
    service = QueryService(registry_from_texts({"slow.yml": SLOW}), Executor(engine, timeouts=timeouts))
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            await service.run(EffectiveQuery(SemanticQuery("slow", measures=("count",))))
        assert caught.value.code == "SERVICE_UNAVAILABLE"
        assert "unreachable" in str(caught.value)
    finally:
        await engine.dispose()
