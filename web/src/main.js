// The embedded dashboard: load the spec with the session's token, draw the filters and tiles, run
// each tile's GraphQL document, re-run on a filter change, and start over when a new token comes.
import { current, dateRange, select, tileWhere } from "./filters.js";
import { Expired, Session } from "./session.js";
import { TileView } from "./tiles.js";

const page = document.body.dataset;
const origins = (page.origins || "").split(" ").filter(Boolean);
const session = new Session(origins);
const root = document.getElementById("cohort-dashboard");
const banner = document.getElementById("cohort-banner");
let spec = null;
let filters = [];
let views = [];
let run = 0;

function say(text, kind) {
  banner.textContent = text;
  banner.dataset.kind = kind || "";
  banner.hidden = !text;
}

function onExpired() {
  document.body.dataset.state = "expired";
  say("This session has expired. Asking the host page for a new one…", "expired");
  for (const view of views) view.state("expired", "Session expired.");
}

async function download(response, fallback) {
  const disposition = response.headers.get("content-disposition") || "";
  const name = (/filename="([^"]+)"/.exec(disposition) || [])[1] || fallback;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

function variables(tile) {
  return { where: tileWhere(tile, current(filters), filters) };
}

const actions = {
  async csv(tile) {
    try {
      const body = { query: tile.document, variables: variables(tile), operationName: tile.operation };
      await download(await session.fetch("/export.csv", body, "text/csv"), `${tile.name}.csv`);
    } catch (error) {
      if (error instanceof Expired) onExpired();
      else say(`The CSV could not be made: ${error.message}`, "error");
    }
  },
  async pdf() {
    try {
      const body = { filters: current(filters) };
      const response = await session.fetch(`/embed/dashboards/${spec.name}.pdf`, body, "application/pdf");
      await download(response, `${spec.name}.pdf`);
    } catch (error) {
      if (error instanceof Expired) onExpired();
      else say(`The PDF could not be made: ${error.message}`, "error");
    }
  },
};

async function runTiles() {
  const mine = ++run;
  document.body.dataset.state = "loading";
  performance.mark("cohort:tiles-start");
  const done = views.map(async (view) => {
    view.state("loading", "Loading…");
    try {
      const data = await session.graphql(view.tile.document, variables(view.tile), view.tile.operation);
      if (mine === run) view.show(data[view.tile.field] || []);
    } catch (error) {
      if (mine !== run) return;
      if (error instanceof Expired) throw error;
      view.state("error", `This tile could not be loaded: ${error.message}`);
    }
  });
  const outcomes = await Promise.allSettled(done);
  if (mine !== run) return;
  if (outcomes.some((outcome) => outcome.status === "rejected")) {
    onExpired();
    return;
  }
  say("");
  document.body.dataset.filters = JSON.stringify(current(filters)); // what the numbers shown are for
  document.body.dataset.state = "ready";
  performance.mark("cohort:tiles-drawn");
  session.tell({ type: "cohort:rendered", dashboard: spec.name, height: document.body.scrollHeight });
}

function header() {
  const head = document.createElement("header");
  head.className = "dashboard-head";
  const title = document.createElement("h1");
  title.textContent = spec.title;
  const pdf = document.createElement("button");
  pdf.type = "button";
  pdf.className = "pdf";
  pdf.textContent = "Download PDF";
  pdf.addEventListener("click", () => actions.pdf());
  head.append(title, pdf);
  if (spec.description) {
    const text = document.createElement("p");
    text.className = "dashboard-description";
    text.textContent = spec.description;
    head.append(text);
  }
  return head;
}

async function start() {
  say(session.token ? "" : "Waiting for the host page to start a session…", "waiting");
  document.body.dataset.state = "loading";
  try {
    spec = await (await session.fetch(page.spec)).json();
  } catch (error) {
    if (error instanceof Expired) onExpired();
    else {
      document.body.dataset.state = "error";
      say(`This dashboard could not be opened: ${error.message}`, "error");
    }
    return;
  }
  document.title = spec.title;
  const form = document.createElement("form");
  form.className = "filters";
  form.setAttribute("aria-label", "Filters");
  form.addEventListener("submit", (event) => event.preventDefault());
  filters = spec.filters.map((filter) =>
    filter.type === "date_range" ? dateRange(filter, runTiles) : select(filter, session, runTiles),
  );
  form.append(...filters.map((filter) => filter.element));
  const grid = document.createElement("div");
  grid.className = "tiles";
  views = spec.tiles.map((tile) => new TileView(tile, actions));
  grid.append(...views.map((view) => view.root));
  root.replaceChildren(header(), form, grid);
  // The choices load beside the tiles, unless a select's default needs them first.
  const loading = Promise.allSettled(filters.map((filter) => filter.load()));
  if (spec.filters.some((filter) => filter.type === "select" && filter.default)) await loading;
  await runTiles();
}

// A new token: the first one starts the page; a later one (a refresh, or after an expiry) re-runs
// the tiles if the last run failed for want of one.
session.onToken = () => {
  if (document.body.dataset.state !== "expired") return; // requests waiting on session.next() go on
  if (spec) runTiles();
  else start();
};
session.tell({ type: "cohort:ready", dashboard: page.dashboard });
start();
