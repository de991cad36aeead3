// Headless Debian Chromium driven by playwright-core (no downloaded browser build), with the
// flags the machine needs, and helpers to reach into the widget's shadow root.

import { chromium } from "playwright-core";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../../clients/lib/server.js";

export const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

export async function launch() {
  if (!existsSync(executablePath)) {
    throw new Error(`chromium not found at ${executablePath}: apt-get install chromium (or set CHROMIUM)`);
  }
  return chromium.launch({
    executablePath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// newPage opens a page in ctx and records page errors and console errors, which a test
// asserts to be empty (a widget that throws is broken even if the flow completes).
export async function newPage(ctx) {
  const page = await ctx.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") page.errors.push(`console: ${m.text()}`);
  });
  return page;
}

// w returns a locator inside the widget's shadow root (Playwright's CSS pierces open shadow
// roots).
export const w = (page, sel) => page.locator(`chatgate-widget ${sel}`);

export const shotDir = path.join(repoRoot, "docs", "widget");

// consoleShotDir holds the screenshots shown in docs/consoles.md.
export const consoleShotDir = path.join(repoRoot, "docs", "consoles");

// screenshot saves <dir>/<name>.png (by default docs/widget/, the states shown in
// docs/widget.md).
export async function screenshot(page, name, dir = shotDir) {
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`) });
}
