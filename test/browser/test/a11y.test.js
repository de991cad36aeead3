// Accessibility of the widget: the whole flow with the keyboard only (no mouse, no element
// clicks), and axe-core (WCAG 2.x A/AA rules) with zero violations in every state.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer } from "../../clients/lib/server.js";
import { waitFor } from "../../clients/lib/wait.js";
import { launch, newPage, w } from "../lib/browser.js";
import { axe } from "../lib/axe.js";
import { otherSide, session, waitItem, startChat, type } from "../lib/chat.js";

// focused describes the element that has the keyboard focus, inside the shadow root if there.
const focused = (p) => p.evaluate(() => {
  let a = document.activeElement;
  while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
  if (!a) return "";
  return `${a.localName}${a.className ? "." + String(a.className).split(" ").join(".") : ""}${a.name ? `[name=${a.name}]` : ""}` +
    `|${a.getAttribute("aria-label") || a.textContent.trim().slice(0, 40)}`;
});

// tabTo presses Tab until the focused element matches re (at most 20 presses).
async function tabTo(p, re, key = "Tab") {
  for (let i = 0; i < 20; i++) {
    if (re.test(await focused(p))) return;
    await p.keyboard.press(key);
  }
  throw new Error(`${key} never reached ${re}; focus is on ${await focused(p)}`);
}

describe("widget accessibility", () => {
  let server, browser, other;
  const pages = [];
  before(async () => {
    server = await new ChatgateServer({ name: "chatgate-widget-a11y" }).start();
    other = otherSide(server);
    browser = await launch();
  });
  after(async () => {
    for (const p of pages) assert.deepEqual(p.errors, [], "the page logged errors");
    await browser?.close();
    await server?.close();
  });

  it("keyboard only: open, form, chat, close, reopen, end, new chat", async () => {
    const ctx = await browser.newContext();
    const p = await newPage(ctx);
    pages.push(p);
    await p.goto(`${server.httpURL}/`);
    await w(p, ".launcher").waitFor();
    await tabTo(p, /^button\.launcher/);
    await p.keyboard.press("Enter");
    assert.match(await focused(p), /^input\[name=nickname\]/, "opening focuses the first field");
    await p.keyboard.press("Enter"); // submit the empty form
    assert.match(await focused(p), /^input\[name=nickname\]/, "the invalid field keeps the focus");
    assert.equal(await w(p, "input[name=nickname]").getAttribute("aria-invalid"), "true");
    await p.keyboard.type("Kim");
    await tabTo(p, /^button\.primary\|Start chat/);
    await p.keyboard.press("Enter");
    await waitFor("the composer to get the focus", async () => /^textarea\.msg-input/.test(await focused(p)), { timeout: 15000 });
    await p.keyboard.type("typed with the keyboard");
    await p.keyboard.press("Shift+Enter");
    await p.keyboard.type("second line");
    await p.keyboard.press("Enter");
    await waitItem(p, "typed with the keyboard\nsecond line", { state: "sent" });

    await p.keyboard.press("Escape");
    assert.match(await focused(p), /^button\.launcher/, "Escape closes and returns to the launcher");
    assert.equal(await w(p, ".panel").isHidden(), true);
    await p.keyboard.press("Enter");
    assert.match(await focused(p), /^textarea\.msg-input/);

    await tabTo(p, /^button\.hbtn\|End chat/, "Shift+Tab");
    await p.keyboard.press("Enter");
    assert.match(await focused(p), /^button\.primary\|Yes, end it/);
    await p.keyboard.press("Escape");
    assert.match(await focused(p), /^button\.hbtn\|End chat/, "cancelling returns to the End chat button");
    await p.keyboard.press("Enter");
    await p.keyboard.press("Enter");
    await w(p, ".ended").waitFor({ state: "visible" });
    assert.match(await focused(p), /^button\.primary\|Start a new chat/);
    await p.keyboard.press("Enter");
    assert.match(await focused(p), /^input\[name=nickname\]/);
    assert.equal(await session(p), null);
    await ctx.close();
  });

  it("axe-core: no violations when closed, in the form (with errors), chatting, offline-free and ended", async () => {
    // bypassCSP: axe-core is injected as a script, which the demo page's CSP forbids.
    const ctx = await browser.newContext({ bypassCSP: true });
    const p = await newPage(ctx);
    pages.push(p);
    await p.goto(`${server.httpURL}/`);
    await w(p, ".launcher").waitFor();
    const all = [];
    let checked = 0;
    const run = async (what) => {
      const r = await axe(p, what);
      all.push(...r.violations);
      checked += r.checked;
    };
    await run("closed");
    await w(p, ".launcher").click();
    await run("form");
    await w(p, "form.prechat button[type=submit]").click();
    await run("form with errors");
    const s = await startChat(p, { name: "Axel" });
    await type(p, "hello https://example.com/a");
    await waitItem(p, "hello https://example.com/a", { state: "sent" });
    await other.say(s, "an answer");
    await waitItem(p, "an answer");
    await run("chatting");
    await w(p, "header button:has-text('End chat')").click();
    await run("end confirmation");
    await w(p, ".confirm button.primary").click();
    await w(p, ".ended").waitFor({ state: "visible" });
    await run("ended");
    await w(p, "header button[aria-label='Minimise chat']").click();
    await run("closed after the chat");
    assert.deepEqual(all, []);
    assert.ok(checked > 50, `axe checked too little (${checked} passing rules): did it see the widget?`);
    await ctx.close();
  });
});
