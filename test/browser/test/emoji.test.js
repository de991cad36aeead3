// The composer's emoji picker, by keyboard only, on a phone-sized screen: open from the
// button, move in the grid with the arrow keys, insert at the caret, Escape back to the
// button, send; the server's transcript holds exactly the text with the emoji, and axe-core
// finds no violation while the picker is open. The screenshot goes to docs/widget/emoji.png.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer } from "../../clients/lib/server.js";
import { waitFor } from "../../clients/lib/wait.js";
import { launch, newPage, w, screenshot } from "../lib/browser.js";
import { axe } from "../lib/axe.js";
import { otherSide, startChat, waitItem } from "../lib/chat.js";

// focused describes the focused element inside the widget's shadow root.
const focused = (p) => p.evaluate(() => {
  const a = document.querySelector("chatgate-widget").shadowRoot.activeElement;
  if (!a) return "";
  return `${a.localName}.${a.className}|${a.getAttribute("role") || ""}|${a.getAttribute("aria-label") || a.textContent}`;
});

const value = (p) => w(p, "textarea.msg-input").inputValue();

describe("widget emoji picker", () => {
  let server, browser, other;
  const pages = [];
  before(async () => {
    server = await new ChatgateServer({ name: "chatgate-widget-emoji" }).start();
    other = otherSide(server);
    browser = await launch();
  });
  after(async () => {
    for (const p of pages) assert.deepEqual(p.errors, [], "the page logged errors");
    await browser?.close();
    await server?.close();
  });

  it("keyboard: open, move, insert at the caret, Escape, send; the server holds the emoji; axe clean", async () => {
    // bypassCSP: axe-core is injected as a script, which the demo page's CSP forbids.
    const ctx = await browser.newContext({ viewport: { width: 375, height: 667 }, bypassCSP: true });
    const p = await newPage(ctx);
    pages.push(p);
    await p.goto(`${server.httpURL}/`);
    const s = await startChat(p, { name: "Emma" });
    const btn = w(p, "button[aria-label='Insert emoji']");
    assert.equal(await btn.getAttribute("aria-expanded"), "false");
    const gridId = await btn.getAttribute("aria-controls");
    assert.equal(await w(p, `#${gridId}`).getAttribute("role"), "grid");
    assert.equal(await w(p, `#${gridId}`).isHidden(), true);

    // Type, put the caret between the words, then reach the button with Shift+Tab (it sits
    // beside the attach button, before the message box).
    await w(p, "textarea.msg-input").focus();
    await p.keyboard.type("Thanks for the help");
    for (let i = 0; i < " for the help".length; i++) await p.keyboard.press("ArrowLeft");
    await p.keyboard.press("Shift+Tab");
    assert.match(await focused(p), /^button\.ibtn\|\|Insert emoji$/);
    await p.keyboard.press("Enter");
    assert.equal(await btn.getAttribute("aria-expanded"), "true");
    assert.match(await focused(p), /^span\.\|gridcell\|😀$/, "opening focuses the first cell");

    // Inside a 375 px screen, above the composer.
    const box = await w(p, `#${gridId}`).boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 375 && box.y >= 0, `grid off screen: ${JSON.stringify(box)}`);
    const composer = await w(p, "form.composer").boundingBox();
    assert.ok(box.y + box.height <= composer.y, "the grid sits above the composer");

    const r = await axe(p, "emoji picker open");
    assert.deepEqual(r.violations, []);
    assert.ok(r.checked > 20, `axe checked too little (${r.checked} passing rules)`);
    await p.mouse.move(200, 120); // no hover highlight on a cell in the screenshot
    await screenshot(p, "emoji");

    // Arrows: right twice, down twice (row 3), left once → 👏, then around the row.
    await p.keyboard.press("ArrowRight");
    await p.keyboard.press("ArrowRight");
    await p.keyboard.press("ArrowDown");
    await p.keyboard.press("ArrowDown");
    assert.match(await focused(p), /\|gridcell\|👏$/);
    await p.keyboard.press("ArrowLeft");
    assert.match(await focused(p), /\|gridcell\|👎$/);
    await p.keyboard.press("End");
    assert.match(await focused(p), /\|gridcell\|💪$/, "End goes to the end of the row");
    await p.keyboard.press("ArrowUp");
    assert.match(await focused(p), /\|gridcell\|😡$/);
    await p.keyboard.press("Home");
    assert.match(await focused(p), /\|gridcell\|😅$/, "Home goes to the start of the row");
    await p.keyboard.press("ArrowDown");
    assert.equal(await w(p, "[role=gridcell][tabindex='0']").count(), 1, "one tab stop in the grid");
    await p.keyboard.press("Enter"); // 👍
    assert.equal(await btn.getAttribute("aria-expanded"), "false");
    assert.equal(await w(p, `#${gridId}`).isHidden(), true);
    assert.match(await focused(p), /^textarea\.msg-input/, "inserting returns to the message box");
    assert.equal(await value(p), "Thanks👍 for the help", "inserted at the caret");
    await p.keyboard.type(" "); // the caret is after the emoji
    assert.equal(await value(p), "Thanks👍  for the help");
    await p.keyboard.press("Backspace");

    // Escape closes the grid (not the panel) and returns to the button; Space inserts.
    await p.keyboard.press("End");
    await p.keyboard.press("Shift+Tab");
    await p.keyboard.press("Space");
    assert.equal(await btn.getAttribute("aria-expanded"), "true");
    await p.keyboard.press("Escape");
    assert.equal(await btn.getAttribute("aria-expanded"), "false");
    assert.equal(await w(p, ".panel").isHidden(), false, "Escape in the grid leaves the panel open");
    assert.match(await focused(p), /^button\.ibtn\|\|Insert emoji$/, "Escape returns to the button");
    await p.keyboard.press("Enter");
    await p.keyboard.press("ArrowLeft"); // stays on the first cell
    await p.keyboard.press("ArrowDown");
    await p.keyboard.press("ArrowDown");
    await p.keyboard.press("ArrowDown");
    await p.keyboard.press("Space"); // ❤️ (row 4, first cell: two code points)
    let text = "Thanks👍 for the help❤️";
    assert.equal(await value(p), text);

    // Tab out of an open grid closes it.
    await p.keyboard.press("Shift+Tab");
    await p.keyboard.press("Enter");
    await p.keyboard.press("Tab");
    assert.equal(await btn.getAttribute("aria-expanded"), "false");
    assert.match(await focused(p), /^textarea\.msg-input/);

    // The pointer works too: a click on the button opens, a click on a cell inserts.
    await btn.click();
    await w(p, "[role=gridcell]:has-text('🎉')").click();
    assert.equal(await value(p), text + "🎉");
    text += "🎉";
    assert.match(await focused(p), /^textarea\.msg-input/);

    await p.keyboard.press("Enter");
    await waitItem(p, text, { state: "sent" });
    const t = await waitFor("the message in the server's transcript", async () => {
      const r = await other.transcript(s);
      return r.messages.some((e) => e.type === "Message") && r;
    });
    assert.deepEqual(t.messages.filter((e) => e.type === "Message").map((e) => e.text), [text]);
    await ctx.close();
  });

  it("the button's name is translated", async () => {
    const ctx = await browser.newContext();
    const p = await newPage(ctx);
    pages.push(p);
    await p.goto(`${server.httpURL}/`);
    await w(p, ".launcher").waitFor();
    for (const [lang, name, grid] of [["de", "Emoji einfügen", "Emojis"], ["fr", "Insérer un émoji", "Émojis"],
      ["es", "Insertar emoji", "Emojis"], ["en", "Insert emoji", "Emoji"]]) {
      await p.evaluate((l) => window.ChatGate.init({ service: "customer-support", lang: l }), lang);
      assert.equal(await w(p, "form.composer .ibtn >> nth=1").getAttribute("aria-label"), name);
      assert.equal(await w(p, "[role=grid]").getAttribute("aria-label"), grid);
    }
    await ctx.close();
  });
});
