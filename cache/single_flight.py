"""Single flight: concurrent callers of the same key share one run of the work."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class SingleFlight:
    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Future[Any]] = {}

    async def run(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        flight = self._flights.get(key)
        if flight is not None:
            # Shielded: one caller giving up (a client gone) must not cancel the others' result.
            result: T = await asyncio.shield(flight)
            return result
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            value = await work()
        except BaseException as error:
            flight.set_exception(error)
            flight.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        else:
            flight.set_result(value)
            return value
        finally:
            del self._flights[key]

    def __len__(self) -> int:
        return len(self._flights)
