"""Result rows as CSV (RFC 4180: commas, double quotes, CRLF), for spreadsheets and scripts.

Values: NULL is empty, booleans `true`/`false`, numbers as Python writes them (the shortest
text that reads back the same), times in ISO 8601 as GraphQL gives them. Text that a
spreadsheet would run as a formula (starting with = + - @ or a tab or carriage return) is
prefixed with a single quote (OWASP's advice against CSV injection). A stream that stops
early ends with an error line: `#ERROR,<code>,<message>`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

_FORMULA = ("=", "+", "-", "@", "\t", "\r")
ERROR_MARK = "#ERROR"


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def lines(rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def error_line(code: str, message: str) -> str:
    return lines([(ERROR_MARK, code, message)])
