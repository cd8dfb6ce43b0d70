"""Projection: result rows into the response shape in one pass, no per-field resolvers.

For each distinct selection shape a small function is generated once, e.g.
`lambda r: {"count": r[2], "course": {"subject": r[0]}}`, and applied to every row:
graphql-core's field-by-field completion costs ~57 µs per 7-field row, this ~0.5 µs.
The generated text holds only response keys (validated GraphQL names, written with
repr) and column indexes, never data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from resolvers.selection import Column, Constant, Item, Nested

RowBuilder = Callable[[Sequence[Any]], dict[str, Any]]
Shape = tuple[tuple[str, Any], ...]  # hashable: (key, column index | ("const", v) | nested shape)


class ProjectedRows(list[dict[str, Any]]):
    """Rows already in their response shape; the execution context returns them as is."""


def shape_of(items: tuple[Item, ...], columns: Sequence[str]) -> Shape:
    index = {column: position for position, column in enumerate(columns)}
    return _shape(items, index)


def _shape(items: tuple[Item, ...], index: dict[str, int]) -> Shape:
    shape: list[tuple[str, Any]] = []
    for item in items:
        if isinstance(item, Column):
            shape.append((item.key, index[item.column]))
        elif isinstance(item, Constant):
            shape.append((item.key, ("const", item.value)))
        else:
            shape.append((item.key, _shape(item.items, index)))
    return tuple(shape)


def _source(shape: Shape) -> str:
    parts = []
    for key, value in shape:
        if isinstance(value, int):
            parts.append(f"{key!r}: r[{value}]")
        elif value and value[0] == "const":
            parts.append(f"{key!r}: {value[1]!r}")
        else:
            parts.append(f"{key!r}: {_source(value)}")
    return "{" + ", ".join(parts) + "}"


@lru_cache(maxsize=2048)
def row_builder(shape: Shape) -> RowBuilder:
    # No builtins: the text is keys and indexes only, but nothing else is reachable either.
    builder: RowBuilder = eval(f"lambda r: {_source(shape)}", {"__builtins__": {}})
    return builder


def project(items: tuple[Item, ...], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> ProjectedRows:
    return ProjectedRows(map(row_builder(shape_of(items, columns)), rows))


__all__ = ["Nested", "ProjectedRows", "RowBuilder", "project", "row_builder", "shape_of"]
