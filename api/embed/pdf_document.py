"""A dashboard as a PDF (fpdf2): its title, the session's scope and filter values, then each
tile with its chart (bars, or lines over time) and its numbers as a table, formatted as the
page formats them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from api.embed.tile_runs import TileRun, Values

MAX_ROWS = 40  # a tile's table in the PDF; the CSV has them all
MAX_BARS = 20
COLORS = [(37, 99, 235), (217, 119, 6), (5, 150, 105), (219, 39, 119), (124, 58, 237)]
_TIME = re.compile(r"\d{4}-\d\d-\d\dT")
# dashes, quotes and the ellipsis as their ASCII look-alikes
_PLAIN = str.maketrans(
    {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
    | {"\u2026": "..."}
)


def latin(text: str) -> str:
    """The PDF's core fonts are Latin-1: other characters become '?'."""
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def shown(value: Any, grain: str | None = None) -> str:
    """A value as the page shows it (web/src/format.js)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    text = str(value)
    if _TIME.match(text):
        if grain == "year":
            return text[:4]
        if grain == "quarter":
            return f"{text[:4]} Q{int(text[5:7]) // 3 + 1}"
        if grain == "month":
            return text[:7]
        if grain in ("hour", "value"):
            return text[:16].replace("T", " ")
        return text[:10]
    return text


def _at(row: Any, path: Sequence[str]) -> Any:
    for key in path:
        row = row.get(key) if isinstance(row, dict) else None
    return row


def _cell(row: dict[str, Any], column: dict[str, Any]) -> str:
    path = column["path"]
    return shown(_at(row, path), path[-1] if column["kind"] == "dimension" else None)


class _Document(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("helvetica", size=8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 6, f"Page {self.page_no()}", align="C")


def render(
    view: dict[str, Any], runs: list[TileRun], values: Values, tenant: str, locked: list[str]
) -> bytes:
    pdf = _Document(format="A4")
    pdf.set_title(latin(view["title"]))
    pdf.set_creator("Cohort")
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 18)
    pdf.multi_cell(0, 9, latin(view["title"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", size=9)
    pdf.set_text_color(80, 80, 80)
    if view.get("description"):
        pdf.multi_cell(0, 5, latin(view["description"].strip()), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    facts = [f"Tenant: {tenant}", f"Made {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"]
    titles = {item["name"]: item["title"] for item in view["filters"]}
    facts += [f"{titles[name]}: {', '.join(shown(v) for v in given)}" for name, given in values.items()]
    facts += [f"Locked: {lock}" for lock in locked]
    pdf.multi_cell(0, 5, latin("   ".join(facts)), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    for run in runs:
        _tile(pdf, run)
    return bytes(pdf.output())


def _tile(pdf: FPDF, run: TileRun) -> None:
    tile = run.tile
    if pdf.will_page_break(40):
        pdf.add_page()
    pdf.ln(4)
    pdf.set_font("helvetica", "B", 12)
    pdf.multi_cell(0, 7, latin(tile["title"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", size=9)
    if run.error is not None:
        pdf.set_text_color(185, 28, 28)
        pdf.multi_cell(0, 5, latin(f"This tile could not be loaded: {run.error}"))
        pdf.set_text_color(0, 0, 0)
        pdf.ln(2)
        return
    if not run.rows:
        pdf.multi_cell(0, 5, "No data for these filters.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return
    columns = tile["columns"]
    if tile["chart"] == "number":
        pdf.set_font("helvetica", "B", 22)
        pdf.cell(0, 11, latin(_cell(run.rows[0], columns[0])), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return
    if tile["chart"] == "line":
        _lines(pdf, tile, run.rows)
    elif tile["chart"] in ("bar", "funnel"):
        _bars(pdf, tile, run.rows)
    _table(pdf, columns, run.rows)


def _table(pdf: FPDF, columns: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    pdf.set_font("helvetica", size=8)
    align = ["LEFT" if column["kind"] == "dimension" else "RIGHT" for column in columns]
    with pdf.table(
        text_align=align, line_height=5, first_row_as_headings=True, borders_layout="HORIZONTAL_LINES"
    ) as table:
        table.row([latin(column["title"]) for column in columns])
        for row in rows[:MAX_ROWS]:
            table.row([latin(_cell(row, column)) for column in columns])
    if len(rows) > MAX_ROWS:
        pdf.cell(0, 5, f"... and {len(rows) - MAX_ROWS} more rows (the CSV has them all)")
        pdf.ln(5)


def _label(row: dict[str, Any], dimensions: list[dict[str, Any]]) -> str:
    return " / ".join(_cell(row, column) for column in dimensions)


def _bars(pdf: FPDF, tile: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Horizontal bars of the first measure, one per row, in the rows' order."""
    dimensions = [c for c in tile["columns"] if c["kind"] == "dimension"]
    measure = next(c for c in tile["columns"] if c["kind"] == "measure")
    shown_rows = rows[:MAX_BARS]
    numbers = [_at(row, measure["path"]) or 0 for row in shown_rows]
    top = max([float(n) for n in numbers] + [0.0]) or 1.0
    left, width = pdf.l_margin, pdf.epw
    label_w, value_w = width * 0.3, 22.0
    pdf.set_font("helvetica", size=7)
    pdf.cell(0, 5, latin(measure["title"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for row, number in zip(shown_rows, numbers, strict=True):
        y = pdf.get_y()
        if pdf.will_page_break(5):
            pdf.add_page()
            y = pdf.get_y()
        pdf.set_xy(left, y)
        pdf.cell(label_w, 4.5, latin(_label(row, dimensions))[:48])
        pdf.set_fill_color(*COLORS[0])
        bar = max(0.3, (width - label_w - value_w) * float(number) / top)
        pdf.rect(left + label_w, y + 0.7, bar, 3.1, "F")
        pdf.set_xy(left + width - value_w, y)
        pdf.cell(value_w, 4.5, latin(shown(_at(row, measure["path"]))), align="R")
        pdf.set_xy(left, y + 4.5)
    pdf.ln(2)


def _lines(pdf: FPDF, tile: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """The first measure over the first (time) dimension; one line per value of a second one."""
    dimensions = [c for c in tile["columns"] if c["kind"] == "dimension"]
    measure = next(c for c in tile["columns"] if c["kind"] == "measure")
    labels = list(dict.fromkeys(_cell(row, dimensions[0]) for row in rows))
    series: dict[str, list[float | None]] = {}
    for row in rows:
        key = _cell(row, dimensions[1]) if len(dimensions) > 1 else measure["title"]
        points = series.setdefault(key, [None] * len(labels))
        value = _at(row, measure["path"])
        points[labels.index(_cell(row, dimensions[0]))] = None if value is None else float(value)
    top = max([v for points in series.values() for v in points if v is not None] + [0.0]) or 1.0
    height = 45.0
    if pdf.will_page_break(height + 14):
        pdf.add_page()
    left, width, y0 = pdf.l_margin + 12, pdf.epw - 12, pdf.get_y() + 2
    pdf.set_draw_color(200, 200, 200)
    pdf.line(left, y0 + height, left + width, y0 + height)
    pdf.line(left, y0, left, y0 + height)
    pdf.set_font("helvetica", size=7)
    pdf.set_xy(pdf.l_margin, y0 - 2)
    pdf.cell(11, 4, latin(shown(top)), align="R")
    step = width / max(1, len(labels) - 1)
    for index, (key, points) in enumerate(series.items()):
        color = COLORS[index % len(COLORS)]
        pdf.set_draw_color(*color)
        pdf.set_line_width(0.5)
        line = [
            (left + i * step, y0 + height - height * v / top) for i, v in enumerate(points) if v is not None
        ]
        if len(line) > 1:
            pdf.polyline(line)
        pdf.set_text_color(*color)
        pdf.set_xy(left + (index % 4) * width / 4, y0 + height + 5)
        pdf.cell(width / 4, 4, latin(key)[:40])
    pdf.set_line_width(0.2)
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(left, y0 + height + 0.5)
    pdf.cell(30, 4, latin(labels[0]))
    pdf.set_xy(left + width - 30, y0 + height + 0.5)
    pdf.cell(30, 4, latin(labels[-1]), align="R")
    pdf.set_xy(pdf.l_margin, y0 + height + 5 + 4 * ((len(series) + 3) // 4) + 2)
