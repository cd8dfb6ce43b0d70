// A tile: its states (loading, ready, empty, error, expired), its chart or number, and its numbers
// as text (a table, with each value's raw form in data-value) for screen readers and tests.
import { draw } from "./charts.js";
import { at, show } from "./format.js";

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class TileView {
  constructor(tile, actions) {
    this.tile = tile;
    this.chart = null;
    const root = element("section", `tile tile-${tile.chart}`);
    root.style.setProperty("--width", String(tile.width));
    root.dataset.tile = tile.name;
    const heading = element("h2", "tile-title", tile.title);
    heading.id = `tile-${tile.name}-title`;
    root.setAttribute("aria-labelledby", heading.id);
    const bar = element("div", "tile-head");
    const csv = element("button", "tile-csv", "CSV");
    csv.type = "button";
    csv.setAttribute("aria-label", `Download ${tile.title} as CSV`);
    csv.addEventListener("click", () => actions.csv(tile));
    bar.append(heading, csv);
    this.body = element("div", "tile-body");
    this.body.setAttribute("aria-live", "polite");
    root.append(bar);
    if (tile.description) root.append(element("p", "tile-description", tile.description));
    root.append(this.body);
    this.root = root;
  }

  state(name, message) {
    this.root.dataset.state = name;
    this.root.setAttribute("aria-busy", String(name === "loading"));
    if (name === "loading" && this.body.childElementCount) {
      this.body.classList.add("stale"); // keep what was shown, dimmed, while it re-queries
      return;
    }
    this.clear();
    const note = element("p", `tile-note tile-${name}`, message);
    if (name === "error" || name === "expired") note.setAttribute("role", "alert");
    this.body.append(note);
  }

  clear() {
    if (this.chart) this.chart.destroy();
    this.chart = null;
    this.body.classList.remove("stale");
    this.body.replaceChildren();
  }

  show(rows) {
    if (!rows.length) {
      this.state("empty", "No data for these filters.");
      return;
    }
    this.clear();
    this.root.dataset.state = "ready";
    this.root.setAttribute("aria-busy", "false");
    const { tile } = this;
    if (tile.chart === "number") {
      const [measure] = tile.columns;
      const value = at(rows[0], measure.path);
      const number = element("p", "tile-number", show(value, measure));
      number.dataset.value = value === null ? "" : String(value);
      this.body.append(number);
      return;
    }
    if (tile.chart !== "table") {
      const frame = element("div", "chart");
      const canvas = element("canvas");
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `${tile.title}: chart; the numbers are in the table that follows`);
      frame.append(canvas);
      this.body.append(frame);
      this.chart = draw(canvas, tile, rows);
    }
    this.body.append(this.table(rows, tile.chart !== "table"));
  }

  table(rows, hidden) {
    const wrap = element("div", hidden ? "visually-hidden" : "table-wrap");
    const table = element("table");
    table.append(element("caption", "visually-hidden", this.tile.title));
    const head = element("tr");
    for (const column of this.tile.columns) {
      const cell = element("th", column.kind, column.title);
      cell.scope = "col";
      head.append(cell);
    }
    table.appendChild(element("thead")).append(head);
    const body = table.appendChild(element("tbody"));
    for (const row of rows) {
      const line = body.appendChild(element("tr"));
      for (const column of this.tile.columns) {
        const value = at(row, column.path);
        const cell = line.appendChild(element("td", column.kind, show(value, column)));
        cell.dataset.value = value === null ? "" : String(value);
      }
    }
    wrap.append(table);
    return wrap;
  }
}
