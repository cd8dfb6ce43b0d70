"""Read a warehouse's tables, columns, keys and foreign keys (for model generation).

Only the catalog is read, through SQLAlchemy's inspector: a role with USAGE on the
schema is enough, and no table is scanned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from schema.generate import Column, ColumnKind, ForeignKey, TableInfo


def column_kind(type_: sa.types.TypeEngine[Any]) -> ColumnKind:
    if isinstance(type_, sa.Boolean):
        return "boolean"
    if isinstance(type_, sa.Integer):  # smallint, integer, bigint
        return "integer"
    if isinstance(type_, sa.Numeric | sa.Float):
        return "float"
    if isinstance(type_, sa.DateTime):
        return "time"
    if isinstance(type_, sa.Date):
        return "date"
    return "string"  # text, varchar, uuid, enums, and anything else shown as text


def _read(conn: Connection, schema: str | None, only: Sequence[str] | None) -> tuple[TableInfo, ...]:
    inspector = sa.inspect(conn)
    names = list(inspector.get_table_names(schema=schema))
    if only:
        missing = sorted(set(only) - set(names))
        if missing:
            raise LookupError(f"no such table in {schema or 'the default schema'}: {', '.join(missing)}")
        names = [name for name in names if name in set(only)]
    tables = []
    for name in sorted(names):
        columns = tuple(
            Column(c["name"], column_kind(c["type"]), bool(c.get("nullable", True)))
            for c in inspector.get_columns(name, schema=schema)
        )
        pk = tuple(inspector.get_pk_constraint(name, schema=schema).get("constrained_columns") or ())
        fks = tuple(
            ForeignKey(
                tuple(fk["constrained_columns"]),
                fk.get("referred_schema"),
                fk["referred_table"],
                tuple(fk["referred_columns"]),
            )
            for fk in inspector.get_foreign_keys(name, schema=schema)
        )
        unique = tuple(
            tuple(u["column_names"]) for u in inspector.get_unique_constraints(name, schema=schema)
        )
        comment = inspector.get_table_comment(name, schema=schema).get("text")
        tables.append(TableInfo(schema, name, columns, pk, fks, unique, comment))
    return tuple(tables)


async def read_tables(
    engine: AsyncEngine, schema: str | None = None, only: Sequence[str] | None = None
) -> tuple[TableInfo, ...]:
    async with engine.connect() as conn:
        return await conn.run_sync(_read, schema, only)
