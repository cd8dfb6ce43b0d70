"""SQL snippets from model files: trusted text with `{name}` placeholders.

In member SQL, `{TABLE}` (or the model's own name) stands for the model's table; a
snippet that is a bare column name is shorthand for `{TABLE}.column`. In join SQL the
two models' names stand for their tables. In a `number` measure, `{measure}` stands
for another measure of the same model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SELF = "TABLE"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str


Part = str | Placeholder


def parse(sql: str) -> tuple[Part, ...]:
    """Split a snippet into literal text and placeholders."""
    parts: list[Part] = []
    position = 0
    for match in _PLACEHOLDER.finditer(sql):
        if match.start() > position:
            parts.append(sql[position : match.start()])
        parts.append(Placeholder(match.group(1)))
        position = match.end()
    if position < len(sql):
        parts.append(sql[position:])
    return tuple(parts)


def placeholders(sql: str) -> set[str]:
    return {match.group(1) for match in _PLACEHOLDER.finditer(sql)}


def is_column(sql: str) -> bool:
    return _COLUMN.fullmatch(sql) is not None


def member_sql(sql: str | None, default_column: str) -> tuple[Part, ...]:
    """The snippet of a dimension or measure, with a bare column qualified by its table."""
    text = default_column if sql is None else sql.strip()
    if is_column(text):
        return (Placeholder(SELF), "." + text)
    return parse(text)
