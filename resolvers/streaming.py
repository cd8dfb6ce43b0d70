"""A compiled query's rows in batches, from a server-side cursor: as many rows as the query
has, in the memory of one batch.

The cursor lives in a transaction on one pooled connection for the whole stream. Each fetch
is a statement of its own for PostgreSQL, so `statement_timeout` applies to every fetch
(and the client gives up `command_s` later, as for any query); checking out the connection
is bounded as usual. The cost budget is checked on the statement before it runs. Closing
the iterator early (a client that left) rolls back and returns the connection; one that is
cancelled mid-fetch is dropped, not returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import asyncpg

from resolvers.compiler import CompiledQuery
from resolvers.cost import within_budget
from resolvers.database import DatabaseUnavailable, is_unavailable, unavailable
from resolvers.executor import Executor, query_failure


async def stream_rows(
    executor: Executor, query: CompiledQuery, budget: float | None, batch_rows: int
) -> AsyncGenerator[Sequence[Sequence[Any]], None]:
    timeouts = executor.timeouts
    known = executor.costs.known(query) if budget is not None else None
    if known is not None and budget is not None:
        within_budget(known, budget)
    conn = executor.engine.connect()
    try:
        async with asyncio.timeout(timeouts.checkout_s):
            await conn.start()
            raw = await conn.get_raw_connection()
    except Exception as exc:
        await conn.close()
        if is_unavailable(exc):
            raise unavailable(exc, "the export did not start", timeouts) from exc
        raise
    connection: asyncpg.Connection = raw.driver_connection
    dropped = False
    try:
        async with connection.transaction(readonly=True):
            if budget is not None and known is None:
                within_budget(await executor.costs.cost(connection, query, timeouts.query_s), budget)
            cursor = await connection.cursor(query.sql, *query.params, timeout=timeouts.query_s)
            while batch := await cursor.fetch(batch_rows, timeout=timeouts.query_s):
                yield batch
    except TimeoutError as exc:
        dropped = True  # frozen or lost: drop the connection, now
        connection.terminate()
        raise unavailable(exc, "the export stopped", timeouts) from exc
    except asyncio.CancelledError:
        dropped = True  # stopped mid-fetch: the connection's state is unknown
        connection.terminate()
        raise
    except DatabaseUnavailable:
        raise
    except Exception as exc:
        failure = query_failure(exc, timeouts)
        if failure is exc:
            raise
        raise failure from exc
    finally:
        if dropped:
            await conn.invalidate()
        await conn.close()
