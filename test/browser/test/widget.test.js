// The customer widget as a customer uses it: the demo page of the real binary in headless
// Chromium. Pre-chat form, messages both ways, reload and return, hostile text, several tabs,
// theming and layout, end of chat. Screenshots of the states go to docs/widget/.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ChatgateServer } from "../../clients/lib/server.js";
import { waitFor } from "../../clients/lib/wait.js";
import { launch, newPage, w, screenshot } from "../lib/browser.js";
import { SVC, session, otherSide, startChat, type, items, waitItem, assertNoDuplicates } from "../lib/chat.js";

const ADMIN = "widget-test-admin-token";

describe("widget on the demo page", () => {
  let server, browser, other;
  const pages = [];
  const page = async (ctx) => {
    const p = await newPage(ctx);
    pages.push(p);
    return p;
  };

  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "chatgate-widget-cfg-"));
    const cfgFile = path.join(dir, "chatgate.json");
    // idle-test: the async idle alert and close fire within seconds (system notices, the
    // server ending the chat).
    writeFileSync(cfgFile, JSON.stringify({
      "chat.idle-test": { settings: { "async-idle-alert": 2, "async-idle-close": 2 } },
    }));
    server = await new ChatgateServer({ name: "chatgate-widget", args: ["--admin-token", ADMIN, "--config", cfgFile] }).start();
    other = otherSide(server);
    browser = await launch();
  });
  after(async () => {
    for (const p of pages) assert.deepEqual(p.errors, [], "the page logged errors");
    await browser?.close();
    await server?.close();
  });

  it("serves the bundle and the demo page with their content types and caching", async () => {
    const js = await fetch(`${server.httpURL}/widget/chatgate.js`);
    assert.equal(js.status, 200);
    assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.match(js.headers.get("cache-control"), /max-age=\d+/);
    const body = await js.text();
    const committed = readFileSync(new URL("../../../widget/dist/chatgate.js", import.meta.url), "utf8");
    assert.equal(body, committed, "the binary serves the committed bundle");
    const again = await fetch(`${server.httpURL}/widget/chatgate.js`, { headers: { "If-None-Match": js.headers.get("etag") } });
    assert.equal(again.status, 304);
    const demo = await fetch(`${server.httpURL}/`);
    assert.equal(demo.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(demo.headers.get("content-security-policy"), /script-src 'self'/);
    assert.match(await demo.text(), /<script src="\/widget\/chatgate.js" data-service="customer-support">/);
  });

  it("pre-chat form validates, then messages go both ways", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1000, height: 720 } });
    const p = await page(ctx);
    await p.goto(`${server.httpURL}/`);
    await w(p, ".launcher").waitFor();
    assert.equal(await w(p, ".panel").isHidden(), true);
    await screenshot(p, "closed");

    await w(p, ".launcher").click();
    assert.equal(await w(p, ".launcher").getAttribute("aria-expanded"), "true");
    // Empty name and a bad email: both refused, the first invalid field gets the focus, and
    // no chat is requested.
    await w(p, "input[name=email]").fill("not-an-email");
    await w(p, "form.prechat button[type=submit]").click();
    assert.equal(await w(p, "input[name=nickname]").getAttribute("aria-invalid"), "true");
    assert.equal(await w(p, "input[name=email]").getAttribute("aria-invalid"), "true");
    assert.equal(await p.evaluate(() => document.querySelector("chatgate-widget").shadowRoot.activeElement?.name), "nickname");
    assert.equal(await session(p), null);
    await screenshot(p, "form");

    await w(p, "input[name=email]").fill("ann@example.com");
    const s = await startChat(p, { name: "Ann", subject: "My order" });
    assert.match(s.chatId, /\S/);
    assert.equal(await w(p, "textarea.msg-input").evaluate((e) => e.getRootNode().activeElement === e), true,
      "the composer has the focus once the chat started");

    await type(p, "Hello, where is my order?");
    const sent = await waitItem(p, "Hello, where is my order?", { state: "sent" });
    assert.ok(sent.index > 1);
    await other.say(s, "It ships today: https://shop.example.com/track/42");
    const got = await waitItem(p, "It ships today: https://shop.example.com/track/42");
    assert.equal(await w(p, `.item[data-index="${got.index}"] a`).getAttribute("href"), "https://shop.example.com/track/42");
    assert.equal(await w(p, `.item[data-index="${got.index}"] a`).getAttribute("rel"), "noopener noreferrer nofollow ugc");

    // The server holds each message once, in the order shown.
    const t = await other.transcript(s);
    const texts = t.messages.filter((e) => e.type === "Message").map((e) => e.text);
    assert.deepEqual(texts, ["Hello, where is my order?", "It ships today: https://shop.example.com/track/42"]);
    assertNoDuplicates(await items(p));
    await ctx.close();
  });

  it("a reload restores the chat and shows what arrived meanwhile, once", async () => {
    const ctx = await browser.newContext();
    const p = await page(ctx);
    await p.goto(`${server.httpURL}/`);
    const s = await startChat(p, { name: "Ben" });
    await type(p, "first");
    await waitItem(p, "first", { state: "sent" });

    await p.reload();
    await w(p, ".launcher").waitFor();
    await w(p, ".launcher").click();
    await waitItem(p, "first"); // from the widget's own storage, before any network
    await other.say(s, "said while reloaded");
    await waitItem(p, "said while reloaded");

    // Tab closed, a message arrives, the customer comes back in a new tab.
    await p.close();
    await other.say(s, "said while away");
    const p2 = await page(ctx);
    await p2.goto(`${server.httpURL}/`);
    await w(p2, ".launcher").waitFor();
    await w(p2, ".launcher").click();
    await waitItem(p2, "said while away");
    const list = await items(p2);
    assertNoDuplicates(list);
    assert.deepEqual(list.filter((i) => i.kind !== "system").map((i) => i.text), ["first", "said while reloaded", "said while away"]);
    const stored = await session(p2);
    assert.equal(stored.chatId, s.chatId);
    assert.equal(stored.lastIndex, (await other.transcript(s)).nextPosition - 1);
    await ctx.close();
  });

  it("hostile message text is rendered as text: no element, no handler, no javascript: link", async () => {
    const ctx = await browser.newContext();
    const p = await page(ctx);
    let dialogs = 0;
    p.on("dialog", (d) => { dialogs++; d.dismiss(); });
    await p.goto(`${server.httpURL}/`);
    const s = await startChat(p, { name: "<b onmouseover=alert(1)>Eve</b>" });
    const hostile = [
      `<img src=x onerror="window.__pwned=1;alert(1)">`,
      `javascript:window.__pwned=2`,
      `<a href="javascript:window.__pwned=3">click</a> <script>window.__pwned=4</script>`,
      `<svg onload="window.__pwned=5"></svg> <iframe src="javascript:alert(5)"></iframe>`,
      `[x](javascript:alert(6)) http://ok.example/"onmouseover="alert(7)`,
    ];
    await other.say(s, hostile[0]);
    await type(p, hostile[1]);
    for (const h of hostile.slice(2)) await other.say(s, h);
    for (const h of hostile) await waitItem(p, h);

    const found = await p.evaluate(() => {
      const root = document.querySelector("chatgate-widget").shadowRoot;
      const log = root.querySelector(".log");
      const all = [...log.querySelectorAll("*")];
      return {
        tags: [...new Set(all.map((e) => e.localName))].sort(),
        handlers: all.flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => `${e.localName}.${a.name}`)),
        hrefs: [...log.querySelectorAll("a")].map((a) => a.getAttribute("href")),
        pwned: window.__pwned,
      };
    });
    assert.deepEqual(found.handlers, []);
    assert.equal(found.pwned, undefined);
    assert.equal(dialogs, 0);
    // Only the widget's own structure: items, bubbles, meta lines, times, and http(s) links.
    for (const tag of found.tags) assert.ok(["a", "div", "time"].includes(tag), `unexpected element <${tag}> in the transcript`);
    for (const href of found.hrefs) assert.match(href, /^https?:\/\//);
    // The quote ends the URL: the rest stays text.
    assert.deepEqual(found.hrefs, ["http://ok.example/"]);
    await ctx.close();
  });

  it("typing notifications: start on typing, stop when idle, preview text only when opted in", async () => {
    const ctx = await browser.newContext();
    const p = await page(ctx);
    await p.goto(`${server.httpURL}/`);
    const s = await startChat(p, { name: "Tia" });
    const typingEvents = async (sess) => (await other.transcript(sess)).messages.filter((e) => e.type.startsWith("Typing"));
    await w(p, "textarea.msg-input").pressSequentially("secret draft");
    const started = await waitFor("TypingStarted", async () => (await typingEvents(s)).find((e) => e.type === "TypingStarted"));
    assert.equal(started.text, undefined, "no preview text without typingPreview");
    await waitFor("TypingStopped after the idle time", async () => (await typingEvents(s)).some((e) => e.type === "TypingStopped"), { timeout: 10000, every: 100 });
    assert.equal((await typingEvents(s)).filter((e) => e.type === "TypingStarted").length, 1, "one TypingStarted per burst of typing");

    await p.evaluate(() => window.ChatGate.init({ service: "idle-test", typingPreview: true }));
    const s2 = await startChat(p, { name: "Tia", service: "idle-test" });
    const side2 = otherSide(server, "idle-test");
    await w(p, "textarea.msg-input").pressSequentially("hello prev");
    const withText = await waitFor("TypingStarted with preview", async () =>
      (await side2.transcript(s2)).messages.find((e) => e.type === "TypingStarted"));
    assert.equal(withText.text, "h");
    await ctx.close();
  });

  it("server notices count as unread; the idle close ends the chat in the widget", async () => {
    const ctx = await browser.newContext();
    const p = await page(ctx);
    await p.goto(`${server.httpURL}/`);
    await p.evaluate(() => window.ChatGate.init({ service: "idle-test" }));
    await startChat(p, { name: "Idle" });
    await w(p, "header button[aria-label='Minimise chat']").click();
    assert.equal(await p.evaluate(() => document.querySelector("chatgate-widget").shadowRoot.activeElement?.className), "launcher",
      "minimising returns the focus to the launcher");
    // The async idle alert (a system Notice) arrives while the panel is closed.
    await waitFor("the idle alert while closed", async () => (await items(p)).some((i) => /inactivity/.test(i.text)), { timeout: 15000, every: 50 });
    // Every notice that arrived while closed is counted (the alert, and a routing notice
    // where routing is on).
    const notices = (await items(p)).filter((i) => i.kind === "system" && i.index > 1 && !/joined|left/.test(i.text)).length;
    assert.equal(await w(p, ".badge").isVisible(), true);
    assert.equal(await w(p, ".badge").textContent(), String(notices));
    assert.match(await w(p, ".launcher .sr").textContent(), new RegExp(`${notices} unread message`));
    await w(p, ".launcher").click();
    assert.equal(await w(p, ".badge").isHidden(), true, "opening the panel clears the badge");
    const alert = await waitFor("the idle alert", async () => (await items(p)).find((i) => i.kind === "system" && /inactivity/.test(i.text)));
    assert.ok(alert.index > 1);
    assert.equal(await w(p, `.item[data-index="${alert.index}"]`).getAttribute("class"), "item system alert");
    // Then the idle close: the server ends the chat and the widget shows it.
    await w(p, ".ended").waitFor({ state: "visible", timeout: 15000 });
    assert.equal((await session(p)).ended, true);
    await ctx.close();
  });

  it("several tabs of one browser: one chat, one CometD connection, the next tab takes over", async () => {
    const ctx = await browser.newContext();
    // openSockets counts the page's websockets to /genesys/cometd that are open now.
    const track = (p) => {
      p.sockets = new Set();
      p.on("websocket", (ws) => {
        if (!ws.url().includes("/genesys/cometd")) return;
        p.sockets.add(ws);
        ws.on("close", () => p.sockets.delete(ws));
      });
      return p;
    };
    const a = track(await page(ctx));
    await a.goto(`${server.httpURL}/`);
    const b = track(await page(ctx));
    await b.goto(`${server.httpURL}/`);
    await w(b, ".launcher").waitFor();
    const s = await startChat(a, { name: "Tab" });
    // Tab B follows the chat started in tab A without a connection of its own.
    await w(b, ".launcher").click();
    await w(b, "textarea.msg-input").waitFor({ state: "visible" });
    const c = track(await page(ctx));
    await c.goto(`${server.httpURL}/`);
    await w(c, ".launcher").click();
    await w(c, "textarea.msg-input").waitFor({ state: "visible" });

    await type(a, "from tab A");
    await waitItem(a, "from tab A", { state: "sent" });
    await waitItem(b, "from tab A");
    await waitItem(c, "from tab A");
    await type(b, "from tab B");
    await waitItem(b, "from tab B", { state: "sent" });
    await waitItem(a, "from tab B");
    await waitItem(c, "from tab B");
    const leaders = async (ps) => Promise.all(ps.map((p) => p.evaluate(() => window.ChatGate.widget.conn?.leader === true)));
    assert.deepEqual(await leaders([a, b, c]), [true, false, false]);
    assert.deepEqual([a, b, c].map((p) => p.sockets.size), [1, 0, 0], "one websocket for the three tabs");

    // The leading tab closes: one of the others takes over with a connection of its own.
    await a.close();
    const next = await waitFor("a new leading tab", async () => {
      const l = await leaders([b, c]);
      return l.filter(Boolean).length === 1 && (l[0] ? b : c);
    });
    await waitFor("the new leader's websocket", () => next.sockets.size === 1);
    const rest = next === b ? c : b;
    assert.equal(rest.sockets.size, 0);
    await other.say(s, "after the takeover");
    await waitItem(b, "after the takeover");
    await waitItem(c, "after the takeover");
    await type(rest, "from the follower");
    await waitItem(rest, "from the follower", { state: "sent" });
    await waitItem(next, "from the follower");

    const t = await other.transcript(s);
    assert.deepEqual(t.messages.filter((e) => e.type === "Message").map((e) => e.text),
      ["from tab A", "from tab B", "after the takeover", "from the follower"]);
    for (const p of [b, c]) {
      const list = await items(p);
      assertNoDuplicates(list);
      assert.equal(list.filter((i) => i.kind === "own").length, 4);
    }
    await ctx.close();
  });

  it("host page CSS does not leak in; theming through CSS variables does", async () => {
    const ctx = await browser.newContext({ bypassCSP: true });
    const p = await page(ctx);
    await p.goto(`${server.httpURL}/`);
    await w(p, ".launcher").waitFor();
    await p.addStyleTag({ content: "button { background: rgb(255, 0, 0) !important; font-family: serif; } * { color: rgb(255, 0, 255) !important; }" });
    const before = await w(p, ".launcher").evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.equal(before, "rgb(11, 92, 173)");
    await p.addStyleTag({ content: "chatgate-widget { --cg-primary: rgb(0, 100, 0); }" });
    assert.equal(await w(p, ".launcher").evaluate((e) => getComputedStyle(e).backgroundColor), "rgb(0, 100, 0)");
    await ctx.close();
  });

  it("fills a small screen and speaks the browser's language", async () => {
    const ctx = await browser.newContext({ viewport: { width: 375, height: 667 }, locale: "de-DE" });
    const p = await page(ctx);
    await p.goto(`${server.httpURL}/`);
    assert.equal(await w(p, ".launcher .sr").textContent(), "Chat öffnen");
    await w(p, ".launcher").click();
    const box = await w(p, ".panel").boundingBox();
    assert.deepEqual(box, { x: 0, y: 0, width: 375, height: 667 });
    assert.equal(await w(p, "form.prechat button[type=submit]").textContent(), "Chat starten");
    // ChatGate.init picks another language and service on the same page.
    for (const [lang, start] of [["fr", "Démarrer le chat"], ["es", "Iniciar chat"], ["en", "Start chat"]]) {
      await p.evaluate((l) => window.ChatGate.init({ service: "customer-support", lang: l, open: true }), lang);
      assert.equal(await w(p, "form.prechat button[type=submit]").textContent(), start);
    }
    assert.equal(await p.locator("chatgate-widget").count(), 1, "init replaces the widget, never adds a second");
    await ctx.close();
  });

  it("end chat: confirmed, ended on the server, transcript downloadable, a new chat can start", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1000, height: 720 }, acceptDownloads: true });
    const p = await page(ctx);
    await p.goto(`${server.httpURL}/`);
    const s = await startChat(p, { name: "Cleo" });
    await type(p, "bye for now");
    await waitItem(p, "bye for now", { state: "sent" });
    await w(p, "header button:has-text('End chat')").click();
    await w(p, ".confirm button.primary").click();
    await w(p, ".ended").waitFor({ state: "visible" });
    const t = await other.transcript(s);
    assert.equal(t.chatEnded, true);
    await screenshot(p, "ended");

    const [dl] = await Promise.all([p.waitForEvent("download"), w(p, ".ended button.secondary").click()]);
    assert.equal(dl.suggestedFilename(), `chat-${s.chatId}.txt`);
    const text = readFileSync(await dl.path(), "utf8");
    assert.match(text, /You: bye for now/);

    // A reload keeps the ended state; "Start a new chat" shows the form again.
    await p.reload();
    await w(p, ".launcher").click();
    await w(p, ".ended").waitFor({ state: "visible" });
    await w(p, ".ended button.primary").click();
    await w(p, "input[name=nickname]").waitFor({ state: "visible" });
    assert.equal(await session(p), null);
    await ctx.close();
  });

  it(`requestChat carries the form as GMS fields and async mode (service ${SVC})`, async () => {
    const ctx = await browser.newContext();
    const p = await page(ctx);
    await p.goto(`${server.httpURL}/`);
    const s = await startChat(p, { name: "Dora", email: "dora@example.com", subject: "Refund" });
    const t = await other.transcript(s);
    const joined = t.messages.find((e) => e.type === "ParticipantJoined");
    assert.equal(joined.from.nickname, "Dora");
    assert.equal(joined.from.type, "Client");
    // As the workflow sees it: an async chat with the form's subject.
    const r = await fetch(`${server.httpURL}/workflow/v1/chats/${s.chatId}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
    assert.equal(r.status, 200);
    const info = await r.json();
    assert.equal(info.async, true);
    assert.equal(info.subject, "Refund");
    await ctx.close();
  });
});
