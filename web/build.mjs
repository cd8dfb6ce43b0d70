// Bundles src/ and Chart.js into api/static/embed/ (committed: a fresh machine has no node).
import { build } from "esbuild";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";

const out = new URL("../api/static/embed/", import.meta.url).pathname;
await build({
  entryPoints: ["src/main.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "eof",
  outfile: out + "dashboard.js",
});
copyFileSync("src/dashboard.css", out + "dashboard.css");
copyFileSync("node_modules/chart.js/LICENSE.md", out + "LICENSE.chartjs.md");
const chart = JSON.parse(readFileSync("node_modules/chart.js/package.json", "utf8"));
const esbuild = JSON.parse(readFileSync("node_modules/esbuild/package.json", "utf8"));
writeFileSync(
  out + "VERSIONS.md",
  `# What dashboard.js bundles\n\nBuilt from web/ with \`npm ci && npm run build\` (esbuild ${esbuild.version}).\n\n` +
    `| package | version | license |\n|---|---|---|\n| chart.js | ${chart.version} | ${chart.license} (LICENSE.chartjs.md) |\n` +
    `| web/src (Cohort's own page code) | | the project's |\n`,
);
