"""Helpers for comparing Cohort's results with hand-written SQL (the oracle)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from resolvers.executor import Executor, QueryResult
from resolvers.service import QueryService
from schema.query import EffectiveQuery, SemanticQuery
from schema.registry import Registry


async def oracle(engine: AsyncEngine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        result = await conn.execute(text(sql), params)
        return [tuple(row) for row in result]


async def run(registry: Registry, engine: AsyncEngine, query: SemanticQuery | EffectiveQuery) -> QueryResult:
    effective = query if isinstance(query, EffectiveQuery) else EffectiveQuery(query)
    return await QueryService(registry, Executor(engine)).run(effective)


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, int | float) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def by_key(rows: Iterable[Sequence[Any]], width: int) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Rows keyed by their first `width` columns (the dimensions)."""
    keyed = {tuple(row[:width]): tuple(row[width:]) for row in rows}
    return keyed


def assert_same(actual: Iterable[Sequence[Any]], expected: Iterable[Sequence[Any]], dims: int) -> None:
    """Same groups, and every measure equal (floats within 1e-9)."""
    got, want = by_key(actual, dims), by_key(expected, dims)
    assert set(got) == set(want), sorted(set(got) ^ set(want), key=repr)[:5]
    assert want, "the oracle returned no rows: the comparison would prove nothing"
    for key, values in want.items():
        assert len(got[key]) == len(values)
        for a, b in zip(got[key], values, strict=True):
            assert _close(a, b), (key, got[key], values)
