// Values as the page shows them: time grains as dates, numbers with at most two decimals.

export function at(row, path) {
  let value = row;
  for (const key of path) value = value == null ? null : value[key];
  return value;
}

const numbers = new Intl.NumberFormat("en", { maximumFractionDigits: 2 });

export function show(value, column) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return numbers.format(value);
  const grain = column && column.path[column.path.length - 1];
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT/.test(value)) {
    if (grain === "year") return value.slice(0, 4);
    if (grain === "quarter") return `${value.slice(0, 4)} Q${Math.floor(Number(value.slice(5, 7)) / 3) + 1}`;
    if (grain === "month") return value.slice(0, 7);
    if (grain === "hour" || grain === "value") return value.slice(0, 16).replace("T", " ");
    return value.slice(0, 10);
  }
  return String(value);
}
