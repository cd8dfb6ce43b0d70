"""`cohort validate --db`: check every model's SQL against the live database.

Each table, member, segment and join is prepared (never executed) by PostgreSQL, which
reports missing tables and columns and gives each expression's result type; a
dimension whose type does not fit its declared type is an issue too.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from resolvers import sql
from resolvers.compiler import DIALECT
from schema.issues import Issue
from schema.registry import Registry
from schema.snippets import parse
from schema.spec import ModelSpec

_TYPES: dict[str, frozenset[str]] = {
    "string": frozenset({"text", "varchar", "bpchar", "name", "citext", "uuid"}),
    "number": frozenset({"int2", "int4", "int8", "numeric", "float4", "float8"}),
    "boolean": frozenset({"bool"}),
    "time": frozenset({"timestamptz"}),
}
_ALIAS = "t"


def _text(statement: sa.ClauseElement) -> str:
    return str(statement.compile(dialect=DIALECT, compile_kwargs={"literal_binds": True}))


def _statements(model: ModelSpec) -> list[tuple[str, str, str | None]]:
    """(member, SQL to prepare, declared dimension type or None) for one model."""
    table = sql.source(model, _ALIAS)
    found: list[tuple[str, str, str | None]] = [
        (model.model, _text(sa.select(sa.literal_column("1")).select_from(table)), None),
        (
            f"{model.model}.primary_key",
            _text(
                sa.select(*(sql.member(model, _ALIAS, None, key) for key in model.key_columns)).select_from(
                    table
                )
            ),
            None,
        ),
    ]
    for name, dim in model.dimensions.items():
        expr = sql.member(model, _ALIAS, dim.sql, name)
        found.append(
            (f"{model.model}.dimensions.{name}", _text(sa.select(expr).select_from(table)), dim.type)
        )
    for name, measure in model.measures.items():
        if measure.type in ("ratio", "number"):
            continue  # formulas over other measures, checked through them
        parts = [sql.member(model, _ALIAS, measure.sql, model.key_columns[0])]
        if measure.filter is not None:
            parts.append(sql.condition(model, _ALIAS, measure.filter))
        text = _text(sa.select(*parts).select_from(table))
        found.append((f"{model.model}.measures.{name}", text, None))
    if model.refresh.sql is not None:
        found.append((f"{model.model}.refresh.sql", model.refresh.sql, None))
    for name, segment in model.segments.items():
        text = _text(
            sa.select(sa.literal_column("1"))
            .select_from(table)
            .where(sql.condition(model, _ALIAS, segment.sql))
        )
        found.append((f"{model.model}.segments.{name}", text, None))
    return found


def _join_statements(registry: Registry, model: ModelSpec) -> list[tuple[str, str, str | None]]:
    found: list[tuple[str, str, str | None]] = []
    for name, join in model.joins.items():
        target = registry.model(join.model)
        names: dict[str, sql.Piece] = {model.model: sql.AliasName("a"), target.model: sql.AliasName("b")}
        on = sql.snippet(parse(join.sql), names, sa.Boolean(), grouped=False)
        joined = sql.source(model, "a").join(sql.source(target, "b"), on)
        found.append(
            (
                f"{model.model}.joins.{name}",
                _text(sa.select(sa.literal_column("1")).select_from(joined)),
                None,
            )
        )
    return found


async def check_database(registry: Registry, engine: AsyncEngine) -> list[Issue]:
    issues: list[Issue] = []
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        connection: Any = raw.driver_connection
        for name, model in registry.models.items():
            file = registry.files.get(name, name)
            for member, text, declared in _statements(model) + _join_statements(registry, model):
                try:
                    statement = await connection.prepare(text)
                except asyncpg.PostgresError as exc:
                    issues.append(Issue(file, member, f"database says: {exc}"))
                    continue
                if declared is not None:
                    actual = statement.get_attributes()[0].type.name
                    if actual not in _TYPES[declared]:
                        issues.append(Issue(file, member, f"declared {declared}, but the SQL gives {actual}"))
    return issues
