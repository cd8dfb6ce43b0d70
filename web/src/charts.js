// Chart.js configurations for the chart kinds: line, bar, funnel (horizontal bars in step order).
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { at, show } from "./format.js";

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
);

const COLORS = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626"];

// Series by measure (one dimension), or by the second dimension's values (two dimensions).
function series(tile, rows) {
  const dimensions = tile.columns.filter((column) => column.kind === "dimension");
  // Bars draw their first measure (the others, often of another scale, are in the table); lines
  // put a second measure on its own axis; a funnel's measures are counts of the same steps.
  const all = tile.columns.filter((column) => column.kind === "measure");
  const measures = tile.chart === "bar" ? all.slice(0, 1) : all;
  const [first, second] = dimensions;
  const labels = [...new Set(rows.map((row) => show(at(row, first.path), first)))];
  if (!second) {
    const datasets = measures.map((measure, index) => ({
      label: measure.title,
      data: rows.map((row) => at(row, measure.path)),
      yAxisID: index > 0 && tile.chart === "line" ? "y1" : "y",
    }));
    return { labels, datasets };
  }
  const measure = measures[0];
  const groups = new Map();
  for (const row of rows) {
    const key = show(at(row, second.path), second);
    if (!groups.has(key)) groups.set(key, new Array(labels.length).fill(null));
    groups.get(key)[labels.indexOf(show(at(row, first.path), first))] = at(row, measure.path);
  }
  const datasets = [...groups].map(([key, data]) => ({ label: key, data, yAxisID: "y" }));
  return { labels, datasets };
}

export function draw(canvas, tile, rows) {
  const { labels, datasets } = series(tile, rows);
  datasets.forEach((dataset, index) => {
    const color = COLORS[index % COLORS.length];
    Object.assign(dataset, { borderColor: color, backgroundColor: color, spanGaps: true, pointRadius: 2 });
  });
  const twoAxes = datasets.some((dataset) => dataset.yAxisID === "y1");
  const horizontal = tile.chart === "funnel";
  const scales = { y: { beginAtZero: true } };
  if (twoAxes) scales.y1 = { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } };
  if (horizontal) scales.x = { beginAtZero: true };
  return new Chart(canvas, {
    type: tile.chart === "line" ? "line" : "bar",
    data: { labels, datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      indexAxis: horizontal ? "y" : "x",
      scales: horizontal ? { x: { beginAtZero: true } } : scales,
      plugins: { legend: { display: datasets.length > 1, position: "bottom" } },
    },
  });
}
