"""SQL building blocks: model files' trusted snippets as SQLAlchemy expressions.

A `Snippet` renders literal model SQL with its placeholders replaced by table aliases
or by other expressions (which keep their own bound parameters). Nothing a client sends
is ever part of a snippet's text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.type_api import TypeEngine

from schema.snippets import SELF, Part, is_column, member_sql, parse
from schema.spec import ModelSpec


class AliasName:
    """A table alias inside a snippet, quoted by the dialect when rendered."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


Piece = str | AliasName | ColumnElement[Any]


class Snippet(ColumnElement[Any]):
    inherit_cache = False  # built per query; never cached by SQLAlchemy

    def __init__(self, pieces: Sequence[Piece], type_: TypeEngine[Any], grouped: bool) -> None:
        self.pieces = tuple(pieces)
        self.type = type_
        self.grouped = grouped


@compiles(Snippet)
def _render(element: Snippet, compiler: SQLCompiler, **kw: Any) -> str:
    out = []
    for piece in element.pieces:
        if isinstance(piece, str):
            out.append(piece)
        elif isinstance(piece, AliasName):
            out.append(compiler.preparer.quote(piece.name))
        else:
            out.append(compiler.process(piece, **kw))
    text = "".join(out)
    return f"({text})" if element.grouped else text


def snippet(
    parts: Sequence[Part],
    names: Mapping[str, Piece],
    type_: TypeEngine[Any] | None = None,
    grouped: bool = True,
) -> Snippet:
    """Substitute placeholders by `names`; every placeholder must be known there."""
    pieces: list[Piece] = []
    for part in parts:
        pieces.append(part if isinstance(part, str) else names[part.name])
    return Snippet(pieces, type_ or sa.types.NullType(), grouped)


def model_names(model: ModelSpec, alias: str) -> dict[str, Piece]:
    name = AliasName(alias)
    return {SELF: name, model.model: name}


def member(
    model: ModelSpec, alias: str, sql: str | None, default_column: str, type_: TypeEngine[Any] | None = None
) -> Snippet:
    """A dimension's, measure's or key's SQL on the table aliased `alias`."""
    text = default_column if sql is None else sql
    return snippet(
        member_sql(sql, default_column), model_names(model, alias), type_, grouped=not is_column(text.strip())
    )


def condition(model: ModelSpec, alias: str, sql: str) -> Snippet:
    return snippet(parse(sql), model_names(model, alias), sa.Boolean())


def source(model: ModelSpec, alias: str) -> sa.FromClause:
    """The model's table (or SQL) under `alias`."""
    if model.sql is not None:
        return sa.text(model.sql).columns().subquery(alias)
    assert model.table is not None
    schema, _, table = model.table.rpartition(".")
    return sa.table(table, schema=schema or None).alias(alias)


__all__ = ["AliasName", "Snippet", "condition", "member", "model_names", "snippet", "source"]
