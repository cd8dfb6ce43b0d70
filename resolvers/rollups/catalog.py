"""Which rollups are built, read from `cohort_rollups.state` in the warehouse every few
seconds (never on a query's path).

A state the server cannot read (no rollups set up, the database down) leaves the last one
known; until one is read, every query runs on the raw tables. `generation` changes when a
rollup appears, is rebuilt or its covered range moves, not when only its watermark does:
queries compiled for a generation stay right, because they read the watermark in their
own statement.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from resolvers.rollups.layout import SCHEMA
from resolvers.rollups.matcher import RollupState

log = logging.getLogger("cohort.rollups")

STATE_QUERY = f"""
    select model, rollup, version, table_name, watermark, covered_from, first_at, refreshed_at, rows
    from {SCHEMA}.state
    where to_regclass('{SCHEMA}.' || quote_ident(table_name)) is not null
"""  # noqa: S608


class RollupCatalog:
    def __init__(self, fetch: Any) -> None:
        """`fetch(sql)`: the rows of a trusted query, bounded in time (Executor.rows)."""
        self._fetch = fetch
        self.states: Mapping[str, RollupState] = {}
        self.generation = 0
        self._shape: tuple[Any, ...] = ()
        self._failing = False

    async def load(self) -> None:
        try:
            rows = await self._fetch(f"select to_regclass('{SCHEMA}.state') is not null as ready")
            if not rows or not rows[0][0]:
                self._update({})
                return
            found = {
                f"{row[0]}.{row[1]}": RollupState(
                    f"{row[0]}.{row[1]}", row[2], row[3], int(row[4]), row[5], row[6], row[7], int(row[8])
                )
                for row in await self._fetch(STATE_QUERY)
            }
        except Exception as error:
            if not self._failing:
                log.warning("could not read the rollups' state (%s); serving from what was known", error)
            self._failing = True
            return
        self._failing = False
        self._update(found)

    def _update(self, found: dict[str, RollupState]) -> None:
        shape = tuple(sorted((k, s.version, s.table, s.covered_from) for k, s in found.items()))
        if shape != self._shape:
            self._shape = shape
            self.generation += 1
            if found:
                log.info(
                    "rollups ready: %s", ", ".join(f"{k} ({s.rows:,} rows)" for k, s in sorted(found.items()))
                )
        self.states = found

    async def watch(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.load()
