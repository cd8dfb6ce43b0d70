// Dashboard filters: their controls, their current values, and the `where` each tile sends.
import { at, show } from "./format.js";

// The values set now: {name: [from, to]} for a date range, {name: [values]} for a select.
export function current(filters) {
  const values = {};
  for (const filter of filters) {
    const value = filter.read();
    if (value) values[filter.spec.name] = value;
  }
  return values;
}

// A tile's `where`: its own conditions AND each dashboard filter it listens to (docs/embedding.md).
export function tileWhere(tile, values, filters) {
  const conditions = [];
  for (const [name, path] of Object.entries(tile.listen)) {
    const value = values[name];
    if (!value) continue;
    const spec = filters.find((filter) => filter.spec.name === name).spec;
    conditions.push(nest(path, spec.type === "date_range" ? { inDateRange: value } : { in: value }));
  }
  if (!conditions.length) return tile.where;
  return { AND: [tile.where, ...conditions].filter(Boolean) };
}

function nest(path, leaf) {
  return path.reduceRight((inner, key) => ({ [key]: inner }), leaf);
}

let ids = 0;

function field(label, control) {
  const wrap = document.createElement("div");
  wrap.className = "filter";
  const text = document.createElement("label");
  text.htmlFor = control.id;
  text.textContent = label;
  wrap.append(text, control);
  return wrap;
}

function dateInput(label, value) {
  const input = document.createElement("input");
  input.type = "date";
  input.id = `filter-${++ids}`;
  input.value = value || "";
  return field(label, input);
}

export function dateRange(spec, onChange) {
  const [from, to] = spec.default || [];
  const start = dateInput(`${spec.title}: from`, from);
  const end = dateInput(`${spec.title}: to`, to);
  const group = document.createElement("fieldset");
  group.className = "filter-group";
  group.dataset.filter = spec.name;
  const legend = document.createElement("legend");
  legend.textContent = spec.title;
  group.append(legend, start, end);
  const inputs = [start.querySelector("input"), end.querySelector("input")];
  for (const input of inputs) input.addEventListener("change", onChange);
  // Both ends or none: a half-open range waits for its other end.
  const read = () => (inputs.every((input) => input.value) ? inputs.map((input) => input.value) : null);
  return { spec, element: group, read, load: async () => {} };
}

export function select(spec, session, onChange) {
  const control = document.createElement("select");
  control.id = `filter-${++ids}`;
  control.multiple = spec.multiple;
  control.dataset.filter = spec.name;
  if (!spec.multiple) control.append(new Option("All", ""));
  control.addEventListener("change", onChange);
  let choices = [];
  const read = () => {
    const picked = [...control.selectedOptions].filter((option) => option.value !== "");
    return picked.length ? picked.map((option) => choices[Number(option.value)]) : null;
  };
  // The choices are the viewer's own rows: the options document runs under the session's scope.
  const load = async () => {
    const data = await session.graphql(spec.options.document);
    const rows = Object.values(data)[0] || [];
    choices = rows.map((row) => at(row, spec.options.value));
    rows.forEach((row, index) => {
      const label = spec.options.label ? at(row, spec.options.label) : choices[index];
      const option = new Option(show(label), String(index));
      option.selected = (spec.default || []).includes(choices[index]);
      control.append(option);
    });
  };
  return { spec, element: field(spec.title, control), read, load };
}
