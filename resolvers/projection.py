"""Projection: result rows into the response shape in one pass, no per-field resolvers.

For each distinct selection shape a builder is generated once: one msgspec Struct type
per object in the shape (fields named by the response keys, aliases included) and a
list comprehension such as

    lambda rows: [S0(r[2], S1(r[0]), "Enrollments") for r in rows]

Structs are built in C and not tracked by the garbage collector, and msgspec encodes
them straight to JSON objects: 10,000 rows cost about 2.5-3 ms to build and 1.3 ms to
encode, against 9.5 ms to build the same rows as nested dicts and seconds through
graphql-core's field-by-field completion (bench/README.md). Sharing repeated nested
objects was tried and measured slower (the key costs more than the Struct). The generated text holds
only generated type names and column indexes, never data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import msgspec

from resolvers.selection import Column, Constant, Item

RowsBuilder = Callable[[Sequence[Sequence[Any]]], list[Any]]
Shape = tuple[tuple[str, Any], ...]  # hashable: (key, column index | ("const", v) | nested shape)


class ProjectedRows:
    """Rows already in their response shape; the execution context hands them over as is."""

    __slots__ = ("rows",)

    def __init__(self, rows: list[Any] | msgspec.Raw) -> None:
        self.rows = rows


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


class _Generator:
    def __init__(self) -> None:
        self.types: dict[str, type] = {}

    def expression(self, shape: Shape) -> str:
        name = f"S{len(self.types)}"
        fields = [f"f{position}" for position in range(len(shape))]
        self.types[name] = msgspec.defstruct(
            name, fields, rename=dict(zip(fields, (key for key, _ in shape), strict=True)), gc=False
        )
        arguments = []
        for _, value in shape:
            if isinstance(value, int):
                arguments.append(f"r[{value}]")
            elif value and value[0] == "const":
                arguments.append(repr(value[1]))
            else:
                arguments.append(self.expression(value))
        return f"{name}({', '.join(arguments)})"


@lru_cache(maxsize=2048)
def rows_builder(shape: Shape) -> RowsBuilder:
    generator = _Generator()
    row = generator.expression(shape)
    # No builtins: only the generated Struct types are reachable from the text.
    namespace: dict[str, Any] = {"__builtins__": {}, **generator.types}
    builder: RowsBuilder = eval(f"lambda rows: [{row} for r in rows]", namespace)
    return builder


__all__ = ["ProjectedRows", "RowsBuilder", "Shape", "rows_builder", "shape_of"]
