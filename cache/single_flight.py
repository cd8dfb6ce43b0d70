"""Single flight: concurrent callers of the same key share one run of the work.

A finished result lingers for `linger_s` so that callers arriving just after it (their
cache read was slow, or failed because Redis is struggling under the same burst) still
share it instead of starting the work again.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class SingleFlight:
    def __init__(self, linger_s: float = 1.0, max_lingering: int = 1_024) -> None:
        self.linger_s = linger_s
        self.max_lingering = max_lingering
        self._flights: dict[str, asyncio.Future[Any]] = {}
        self._recent: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    async def run(self, key: str, work: Callable[[], Awaitable[T]], fresh: bool = False) -> T:
        """The result of `work` for `key`; `fresh` ignores a lingering result (not a flight)."""
        flight = self._flights.get(key)
        if flight is not None:
            # Shielded: one caller giving up (a client gone) must not cancel the others' result.
            shared: T = await asyncio.shield(flight)
            return shared
        if not fresh:
            recent = self._recent.get(key)
            if recent is not None and recent[0] > time.monotonic():
                lingering: T = recent[1]
                return lingering
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
            self._linger(key, value)
            return value
        finally:
            del self._flights[key]

    def _linger(self, key: str, value: Any) -> None:
        if self.linger_s <= 0:
            return
        self._recent[key] = (time.monotonic() + self.linger_s, value)
        self._recent.move_to_end(key)
        while len(self._recent) > self.max_lingering:
            self._recent.popitem(last=False)

    def __len__(self) -> int:
        return len(self._flights)
