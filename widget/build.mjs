// Builds dist/chatgate.js: the widget's ES modules and the cometd npm client in one minified
// IIFE. Deterministic (same inputs, same esbuild version → same bytes), which `make
// widget-check` relies on. Usage: node build.mjs [--out FILE]
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const i = args.indexOf("--out");
const outfile = i >= 0 ? path.resolve(args[i + 1]) : path.join(here, "dist", "chatgate.js");
const cometd = JSON.parse(readFileSync(path.join(here, "node_modules", "cometd", "package.json"), "utf8"));

await build({
  absWorkingDir: here,
  entryPoints: ["src/index.js"],
  outfile,
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2022", "chrome100", "firefox100", "safari16"],
  charset: "utf8",
  legalComments: "none",
  banner: {
    js: `/*! chatgate widget (docs/widget.md). Includes the CometD JavaScript client ${cometd.version}, ` +
      "Copyright (c) 2008 the original author or authors, Apache License 2.0, https://cometd.org */",
  },
  logLevel: "warning",
});
