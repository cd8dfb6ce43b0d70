"""Background refreshes of stale results (stale-while-revalidate), bounded and tracked.

At most one refresh per key runs in a process, and at most `limit` in all: past that, a
stale result is still served and a later request starts its refresh. A refresh that fails
is logged (at most every 30 s) and caches nothing; `aclose` cancels those still running
(the app's shutdown).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("cohort.cache")


class Revalidations:
    def __init__(self, limit: int = 32) -> None:
        self.limit = limit
        self.started = self.failed = self.skipped = 0
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._last_warning = -float("inf")

    def start(self, key: str, refresh: Callable[[], Coroutine[Any, Any, Any]]) -> bool:
        """Run `refresh()` in the background unless `key` is being refreshed already or
        `limit` refreshes are running; whether it was started."""
        if key in self._running:
            return False
        if len(self._running) >= self.limit:
            self.skipped += 1
            return False
        task = asyncio.create_task(refresh())
        self._running[key] = task
        self.started += 1
        task.add_done_callback(lambda done: self._finished(key, done))
        return True

    def _finished(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.failed += 1
            now = time.monotonic()
            if now - self._last_warning > 30:
                self._last_warning = now
                log.warning("a background refresh failed (%s); the stale result stays", type(error).__name__)

    async def aclose(self) -> None:
        running = list(self._running.values())
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._running)
