// axe-core (WCAG 2.x A/AA rules) run inside a page, shadow DOM included.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

// axe runs axe-core on the page and returns the violations (one line each) and how many
// rules passed (a run that checked nothing proves nothing).
export async function axe(p, what) {
  await p.evaluate(axeSource);
  const res = await p.evaluate(() => window.axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] },
  }));
  const v = res.violations.map((x) => `${what}: ${x.id} (${x.impact}): ${x.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  return { violations: v, checked: res.passes.length };
}
