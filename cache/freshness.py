"""Freshness: a token per model that changes when the model's data does.

A model's refresh rule is an interval (`every`: the token is the current period) or a
SQL query (`sql`: the token is its value, run at most every `check_every` seconds, one
run at a time). Tokens go into cache keys, so new data means new keys: cached results
are never staler than the rule allows.

A check that fails (the database is down or does not answer within its timeout) keeps
the last value it saw, so cached results keep being served, and is tried again after
`retry_s`; with no value seen yet, the failure is raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("cohort.cache")
RETRY_S = 5.0


class Rule(Protocol):
    @property
    def every(self) -> int | None: ...
    @property
    def sql(self) -> str | None: ...
    @property
    def check_every(self) -> int: ...
    @property
    def ttl(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    data_as_of: float | None  # when the data last changed, as far as the rule can tell
    ttl_s: int  # how long a result keyed by this token may live


@dataclass
class _Checked:
    value: str
    changed_at: float
    checked_at: float


class Freshness:
    def __init__(
        self,
        scalar: Callable[[str], Awaitable[Any]],
        clock: Callable[[], float] = time.time,
        retry_s: float = RETRY_S,
    ) -> None:
        self.scalar = scalar  # runs a refresh query (bounded in time), returns its single value
        self.clock = clock
        self.retry_s = retry_s
        self._checked: dict[str, _Checked] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def token(self, model: str, rule: Rule) -> Token:
        now = self.clock()
        if rule.every is not None:
            period = int(now // rule.every)
            remaining = int((period + 1) * rule.every - now) + 1
            return Token(f"every:{period}", float(period * rule.every), min(rule.ttl, remaining))
        if rule.sql is not None:
            checked = await self._check(model, rule, now)
            return Token(f"sql:{checked.value}", checked.changed_at, rule.ttl)
        return Token("", None, rule.ttl)

    async def _check(self, model: str, rule: Rule, now: float) -> _Checked:
        checked = self._checked.get(model)
        if checked is not None and now - checked.checked_at < rule.check_every:
            return checked
        lock = self._locks.setdefault(model, asyncio.Lock())
        async with lock:  # one refresh query per model at a time
            checked = self._checked.get(model)
            if checked is not None and self.clock() - checked.checked_at < rule.check_every:
                return checked
            assert rule.sql is not None
            try:
                value = repr(await self.scalar(rule.sql))
            except Exception as error:
                if checked is None:
                    raise
                # Keep the last value; check again in retry_s (not at every request).
                retry_at = self.clock() - rule.check_every + min(self.retry_s, rule.check_every)
                self._checked[model] = _Checked(checked.value, checked.changed_at, retry_at)
                log.warning("freshness check of %s failed (%s); keeping its last value", model, error)
                return self._checked[model]
            now = self.clock()
            changed_at = now if checked is None or checked.value != value else checked.changed_at
            self._checked[model] = _Checked(value, changed_at, now)
            return self._checked[model]
