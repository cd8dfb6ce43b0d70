"""Seeded randomness, the time axis and the numbers the demo generators share.

Times are whole seconds since `ORIGIN` until a row needs a datetime. Why the rows stay
identical across runs and machines is in the docstring of `api.demo.generate`.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Final

# --- time ------------------------------------------------------------------------------

MINUTE: Final = 60
HOUR: Final = 60 * MINUTE
DAY: Final = 24 * HOUR
ORIGIN: Final = datetime(2015, 1, 1, tzinfo=UTC)


def second(year: int, month: int, day: int) -> int:
    return int((datetime(year, month, day, tzinfo=UTC) - ORIGIN).total_seconds())


def timestamp(seconds: int) -> datetime:
    return ORIGIN + timedelta(seconds=seconds)


ENROLLMENTS_FROM: Final = second(2024, 1, 1)
# Enrollments happen before it; events that would fall after it have not happened yet.
HORIZON: Final = second(2026, 1, 1)


def enrollment_window(since: int) -> float:
    """The share of the enrollment period after `since`.

    Scaling a learner's (or course's) number of enrollments by it keeps enrollments per
    day even: late sign-ups would otherwise crowd their enrollments into the last weeks.
    """
    start = max(since, ENROLLMENTS_FROM)
    return (HORIZON - start) / (HORIZON - ENROLLMENTS_FROM)


# --- numbers ---------------------------------------------------------------------------

_HUNDREDTH: Final = Decimal("0.01")


def hundredths(value: float) -> Decimal:
    """`value` clamped to 0..100, as a Decimal with two decimals."""
    return Decimal(round(min(100.0, max(0.0, value)) * 100)).scaleb(-2)


@cache
def progress_percent(completed: int, modules: int) -> Decimal:
    """100 * completed / modules, rounded half-up to two decimals (as PostgreSQL's round)."""
    exact = Decimal(100 * completed) / Decimal(modules)
    return exact.quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)


# --- randomness ------------------------------------------------------------------------


def table_rng(seed: int, table: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{table}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def weighted(rng: random.Random, cumulative: Sequence[float]) -> int:
    """An index drawn with the weights whose running totals are `cumulative`."""
    return bisect(cumulative, rng.random() * cumulative[-1], 0, len(cumulative) - 1)


def noise(rng: random.Random, spread: float) -> float:
    """Triangular noise in [-spread, spread], peaked at 0."""
    return (rng.random() + rng.random() - 1.0) * spread


def skewed(rng: random.Random) -> float:
    """A number in [0, 1), usually small: the square of a uniform draw."""
    draw = rng.random()
    return draw * draw  # not draw ** 2: pow() comes from libm
