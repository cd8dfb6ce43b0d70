"""One connection's query streamed into another connection's table with binary COPY.

`COPY (query) TO STDOUT` on the source and `COPY table FROM STDIN (FREEZE)` on the target
run at the same time, so two server processes share the work of a bulk load (making and
sending rows; parsing and storing them) where one `INSERT ... SELECT` would use one core
and write a WAL record per row. Python only hands the blocks on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

# Blocks in flight: asyncpg hands on what one socket read brought (~25 kB). (Joining them
# into larger blocks costs Python more than the calls it saves.)
_DEPTH: Final = 32

_TABLE_TYPES: Final = """
select a.attname::text as name, a.atttypid::int as type
from pg_attribute as a
where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped
"""


class ColumnMismatchError(Exception):
    """A query's columns are not those of the table it is copied into."""


async def check_columns(source: Any, query: str, target: Any, table: str, columns: Sequence[str]) -> None:
    """The query yields `columns` of `table`, in order and of the table's types: binary COPY
    checks only lengths, so a bigint would pass for a timestamp."""
    statement = await source.prepare(query)
    produced = [(attribute.name, attribute.type.oid) for attribute in statement.get_attributes()]
    types = {row["name"]: row["type"] for row in await target.fetch(_TABLE_TYPES, table)}
    expected = [(name, types.get(name)) for name in columns]
    if produced != expected:
        raise ColumnMismatchError(f"{table}: the query yields {produced}, the table takes {expected}")


async def pipe(
    source: Any, query: str, arguments: Sequence[object], target: Any, table: str, columns: Sequence[str]
) -> int:
    """Copies the rows of `query` (run on `source`) into `table` (on `target`, whose
    transaction must have created or truncated it: the rows are written frozen). Returns the
    rows copied. An error on either side ends both COPYs and is raised."""
    blocks: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=_DEPTH)  # None: the end
    failure: list[BaseException] = []

    async def produce() -> None:
        try:
            await source.copy_from_query(query, *arguments, output=blocks.put, format="binary")
        except Exception as error:  # handed to the target's side, which raises it
            failure.append(error)
        await blocks.put(None)  # not when cancelled: then nobody reads any more

    async def consume() -> AsyncIterator[bytes]:
        while (block := await blocks.get()) is not None:
            yield block
        if failure:
            raise failure[0]

    producer = asyncio.create_task(produce())
    try:
        status = await target.copy_to_table(
            table, source=consume(), columns=list(columns), format="binary", freeze=True
        )
    except BaseException:
        producer.cancel()  # asyncpg cancels the source's COPY
        with contextlib.suppress(asyncio.CancelledError):
            await producer
        if failure:
            raise failure[0] from None
        raise
    await producer
    return int(status.split()[-1])
