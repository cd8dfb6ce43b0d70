"""How the CLI prints tables: a rich table on a terminal, plain tab-separated lines (never
cut to the terminal's width) when piped, or JSON for CI (`--format json`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table


class OutputFormat(StrEnum):
    auto = "auto"  # a table on a terminal, plain text otherwise
    table = "table"
    plain = "plain"
    json = "json"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="table on a terminal, plain when piped; or json.")
]


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def emit(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    output: OutputFormat = OutputFormat.auto,
    *,
    title: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Print rows; `extra` goes beside them in JSON (e.g. a policy version)."""
    if output is OutputFormat.json:
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        document: Any = {**extra, "rows": records} if extra else records
        sys.stdout.write(orjson.dumps(document, default=str, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if output is OutputFormat.plain or (output is OutputFormat.auto and not sys.stdout.isatty()):
        if title:
            sys.stdout.write(f"# {title}\n")
        lines = ["\t".join(columns), *("\t".join(_cell(v) for v in row) for row in rows)]
        sys.stdout.write("\n".join(lines) + "\n")
        return
    table = Table(*columns, title=title, title_justify="left")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    Console().print(table)
