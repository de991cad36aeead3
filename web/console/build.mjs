// Builds dist/agent.js, dist/admin.js, dist/supervisor.js and dist/login.js (the login view of all three): the consoles' ES modules (and, for the agent
// and supervisor consoles, the cometd npm client) as minified IIFEs. Deterministic (same inputs, same esbuild
// version → same bytes), which `make console-check` relies on.
// Usage: node build.mjs [--outdir DIR]
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const i = args.indexOf("--outdir");
const outdir = i >= 0 ? path.resolve(args[i + 1]) : path.join(here, "dist");
const cometd = JSON.parse(readFileSync(path.join(here, "node_modules", "cometd", "package.json"), "utf8"));

await build({
  absWorkingDir: here,
  entryPoints: ["src/agent.js", "src/admin.js", "src/supervisor.js", "src/login.js"],
  outdir,
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2022", "chrome100", "firefox100", "safari16"],
  charset: "utf8",
  legalComments: "none",
  banner: {
    js: `/*! chatgate console (docs/consoles.md). The agent and supervisor consoles include the CometD JavaScript client ${cometd.version}, ` +
      "Copyright (c) 2008 the original author or authors, Apache License 2.0, https://cometd.org */",
  },
  logLevel: "warning",
});
