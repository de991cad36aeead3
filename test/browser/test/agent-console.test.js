// The agent console's desk in headless Chromium against the real binary: an admin creates a
// standard response in the admin console (a bad shortcut refused with the server's message)
// and edits it; an agent with capacity 2 takes two customers' chats (widgets) and answers
// both in panes side by side, each with its async status and check-at time; uses the
// standard response by its shortcut (and sees the admin's edit at the next use) and through
// the picker (Alt+R); sends a file the customer downloads in the widget, gets a file too
// large refused with the server's message, and downloads the customer's file; opens the
// customer's contact history and reads an earlier chat another agent handled (read-only).
// On a 390 px phone one pane shows below the chat list. axe-core finds nothing in every
// state; screenshots go to docs/consoles/. A second test loses the answer of a send (a TCP
// proxy that mutes the server, then resets every connection): whatever retries it (the
// browser, the agent), the message is stored and shown once.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ChatgateServer } from "../../clients/lib/server.js";
import { waitFor } from "../../clients/lib/wait.js";
import { launch, newPage, w, screenshot, consoleShotDir } from "../lib/browser.js";
import { axe } from "../lib/axe.js";
import { agentAPI } from "../lib/agent.js";
import { SVC, startChat, type, items, waitItem, rest, otherSide } from "../lib/chat.js";
import { MuteProxy } from "../lib/mute-proxy.js";

const ADMIN = "agent-console-test-admin-token-0123";
const GREETING_V1 = "Hello! How can I help you today?";
const GREETING_V2 = "Hi, thanks for waiting. How can I help?";

async function noViolations(p, what) {
  const r = await axe(p, what);
  assert.deepEqual(r.violations, []);
  assert.ok(r.checked > 10, `${what}: axe checked only ${r.checked} rules`);
}

// The browser logs every 4xx answer as a console error: the ones this test provokes.
const provoked = /status of (400|413|415)|Failed to load resource/;

describe("agent console desk", () => {
  let server, browser, party;
  const pages = [];
  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "chatgate-agent-console-"));
    const cfg = path.join(dir, "chatgate.json");
    writeFileSync(cfg, JSON.stringify({
      // async-idle-alert 10 s: a chat left alone that long gets its alert (status 3) and its
      // GCTI_Chat_AsyncCheckAt, which the pane must show.
      [`chat.${SVC}`]: { "client-file-transfer": { "upload-max-file-size": 2000, "upload-file-types": "txt:pdf:png" }, settings: { "async-idle-alert": 10 } },
    }));
    server = await new ChatgateServer({ name: "chatgate-agent-console", args: ["--admin-token", ADMIN, "--config", cfg] }).start();
    browser = await launch();
    ({ party } = agentAPI(server, ADMIN));
  });
  after(async () => {
    for (const p of pages) assert.deepEqual(p.errors.filter((e) => !provoked.test(e)), [], "a page logged errors");
    await browser?.close();
    await server?.close();
  });

  it("two chats side by side, standard responses, files both ways, contact history; the admin's edit reaches the agent", async () => {
    // --- an earlier chat of Carla's, handled by bob over the agent API ---
    const bob = await party("bob", { displayName: "Bob", role: "agent" });
    await bob.ready();
    const earlier = await rest(server, SVC, "", { nickname: "Carla", emailAddress: "carla@example.com", subject: "Order 4711" });
    assert.ok(earlier.chatId, JSON.stringify(earlier));
    await bob.accept(earlier.chatId);
    await bob.act(earlier.chatId, "send", { text: "Your order 4711 ships on Monday." });
    await bob.act(earlier.chatId, "end");
    await bob.state("not-ready");

    // --- the admin creates a standard response (a bad shortcut first) ---
    const actx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const a = await newPage(actx);
    pages.push(a);
    await a.goto(`${server.httpURL}/admin/`);
    await a.locator("#admin-token").fill(ADMIN);
    await a.keyboard.press("Enter");
    await a.locator("#response-form").waitFor({ state: "visible" });
    await waitFor("the empty list", async () => !(await a.locator("#responses-empty").isHidden()));
    await a.locator("#resp-name").fill("Greeting");
    await a.locator("#resp-shortcut").fill("greet");
    await a.locator("#resp-text").fill(GREETING_V1);
    await a.locator("#resp-save").click();
    await waitFor("the server's refusal", async () => /must be \/ followed by/.test(await a.locator("#response-status").textContent()));
    assert.equal(await a.locator("#response-status").getAttribute("class"), "error");
    assert.equal(await a.locator("#responses tr").count(), 0, "nothing stored");
    await a.locator("#resp-shortcut").fill("/greet");
    await a.locator("#resp-save").click();
    await a.locator('#responses tr:has-text("Greeting")').waitFor({ timeout: 10000 });
    await a.locator("#resp-name").fill("Refund");
    await a.locator("#resp-shortcut").fill("/refund");
    await a.locator("#resp-text").fill("Your refund is on its way: 3 to 5 working days.");
    await a.locator("#resp-queues").fill(SVC);
    await a.locator("#resp-save").click();
    await a.locator('#responses tr:has-text("Refund")').waitFor({ timeout: 10000 });
    assert.deepEqual(await a.locator("#responses tr").evaluateAll((rs) => rs.map((r) => r.children[1].textContent)), ["/greet", "/refund"]);
    await noViolations(a, "admin standard responses");
    await screenshot(a, "admin-responses", consoleShotDir);

    // --- the agent: capacity 2 ---
    const made = await fetch(`${server.httpURL}/admin/accounts/ann`, {
      method: "PUT", headers: { Authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ displayName: "Ann", role: "agent", queues: [SVC], capacity: 2, password: "ann-password-1" }),
    });
    assert.equal(made.status, 200);
    const gctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
    const g = await newPage(gctx);
    pages.push(g);
    await g.goto(`${server.httpURL}/agent/`);
    await g.locator("#login-id").fill("ann");
    await g.locator("#login-password").fill("ann-password-1");
    await g.locator("#login-password").press("Enter");
    await waitFor("the CometD session", async () => (await g.locator("#conn").textContent()) === "Connected", { timeout: 15000 });
    await g.locator("#state-ready").click();
    await waitFor("ready", async () => (await g.locator("#presence").textContent()) === "Ready");
    // Every shortcut of the page is announced and listed.
    assert.match(await g.locator("#keys-h + dl").innerText(), /Alt\s*\+\s*R/);

    // --- two customers write; the agent takes both ---
    const customers = [];
    for (const [name, email, first] of [["Carla", "carla@example.com", "Hello, where is my second parcel?"], ["Dave", "dave@example.com", "Hi, I want to change my address."]]) {
      const ctx = await browser.newContext({ viewport: { width: 900, height: 800 }, acceptDownloads: true });
      const c = await newPage(ctx);
      pages.push(c);
      await c.goto(`${server.httpURL}/`);
      const s = await startChat(c, { name, email });
      await type(c, first);
      await waitItem(c, first, { state: "sent" });
      const offer = g.locator("#offers li");
      await offer.waitFor({ timeout: 15000 });
      await offer.getByRole("button", { name: /^Accept/ }).click();
      await g.locator(`.chat-pane[data-chat-id="${s.chatId}"]`).waitFor();
      customers.push({ name, ctx, c, s, pane: g.locator(`.chat-pane[data-chat-id="${s.chatId}"]`) });
    }
    const [carla, dave] = customers;
    for (const k of customers) {
      await waitFor(`${k.name}'s first message in its pane`, async () => (await k.pane.locator(".chat-log").innerText()).includes(k.name === "Carla" ? "second parcel" : "change my address"));
      assert.equal(await k.pane.locator(".chat-title").textContent(), k.name);
      assert.equal(await k.pane.locator(".chat-meta").getAttribute("data-async-status"), "-1");
      assert.equal(await k.pane.locator(".async-status").textContent(), "Async status -1: an agent handles it");
      // Set by the first idle alert (which may have come already on this slow machine).
      assert.match(await k.pane.locator(".check-at").textContent(), /^(no check-at yet|check at \d{1,2}:\d{2})/);
    }
    // Side by side: same row, Carla's pane left of Dave's, neither hidden.
    const [bc, bd] = [await carla.pane.boundingBox(), await dave.pane.boundingBox()];
    assert.ok(bc && bd && Math.abs(bc.y - bd.y) < 2 && bc.x + bc.width <= bd.x, `panes not side by side: ${JSON.stringify([bc, bd])}`);

    // --- answers in both panes; each reaches only its customer ---
    await carla.pane.locator(".composer-input").fill("Let me look for your second parcel, Carla.");
    await carla.pane.locator(".composer-input").press("Enter");
    await dave.pane.locator(".composer-input").fill("Sure Dave, what is the new address?");
    await dave.pane.locator(".composer-input").press("Enter");
    await waitItem(carla.c, "Let me look for your second parcel, Carla.");
    await waitItem(dave.c, "Sure Dave, what is the new address?");
    await type(dave.c, "Main Street 5");
    await waitFor("Dave's answer in his pane", async () => (await dave.pane.locator(".chat-log").innerText()).includes("Main Street 5"));
    assert.ok(!(await carla.pane.locator(".chat-log").innerText()).includes("Main Street 5"), "Dave's message in Carla's pane");
    assert.ok(!(await w(carla.c, ".log").innerText()).includes("Dave"), "Dave's chat reached Carla");

    // --- a standard response by its shortcut (Tab inserts, Enter sends) ---
    const ci = carla.pane.locator(".composer-input");
    await ci.fill("/greet");
    await ci.press("Tab");
    await waitFor("the shortcut replaced by its text", async () => (await ci.inputValue()) === GREETING_V1);
    await ci.press("Enter");
    await waitItem(carla.c, GREETING_V1);
    // Text typed while a send is on its way stays: the send's answer clears only what it sent
    // (it used to empty the composer, losing the next message — and, racing the customer's
    // copy of the greeting, the "/refund" below in one CI run).
    let release;
    const held = new Promise((r) => { release = r; });
    const sendRoute = /\/agent\/v1\/chats\/[^/]+\/send$/;
    await g.route(sendRoute, async (route) => { await held; await route.continue(); });
    await ci.fill("First of two");
    await ci.press("Enter");
    await waitFor("the send on its way", async () => await carla.pane.locator(".send").isDisabled());
    await ci.fill("Second, typed while the first is on its way");
    release();
    await waitItem(carla.c, "First of two");
    await waitFor("the send's answer handled", async () => !(await carla.pane.locator(".send").isDisabled()));
    assert.equal(await ci.inputValue(), "Second, typed while the first is on its way", "the typed text was lost");
    await g.unroute(sendRoute);
    // A shortcut in the middle of a sentence, then Enter inserts (and does not send).
    await ci.fill("Thanks! /refund");
    await ci.press("Enter");
    await waitFor("the inserted refund text", async () => (await ci.inputValue()) === "Thanks! Your refund is on its way: 3 to 5 working days.");
    await ci.fill("");

    // --- the admin edits the response; the agent's next use has the new text ---
    await a.getByRole("button", { name: "Edit Greeting" }).click();
    await a.locator("#resp-text").fill(GREETING_V2);
    await a.locator("#resp-save").click();
    await waitFor("the edited row", async () => (await a.locator('#responses tr:has-text("Greeting")').innerText()).includes(GREETING_V2));
    const di = dave.pane.locator(".composer-input");
    await waitFor("the edited response at the agent", async () => {
      await di.fill("/greet");
      await di.press("Tab");
      await waitFor("the shortcut handled", async () => (await di.inputValue()) !== "/greet");
      return (await di.inputValue()) === GREETING_V2;
    }, { timeout: 15000 });
    await di.fill("");
    // The picker: Alt+R, filter, Enter.
    await di.focus();
    await g.keyboard.press("Alt+r");
    const picker = dave.pane.locator(".picker");
    await picker.waitFor({ state: "visible" });
    await waitFor("the picker's items", async () => (await picker.locator("[role=option]").count()) === 2);
    assert.equal(await g.evaluate(() => document.activeElement.getAttribute("role")), "combobox");
    await noViolations(g, "agent with the standard responses picker");
    await screenshot(g, "agent-responses", consoleShotDir);
    await g.keyboard.type("refund");
    await waitFor("the filtered list", async () => (await picker.locator("[role=option]").count()) === 1);
    await g.keyboard.press("Enter");
    await waitFor("the picked text", async () => (await di.inputValue()) === "Your refund is on its way: 3 to 5 working days.");
    assert.ok(await picker.isHidden());
    assert.equal(await g.evaluate(() => document.activeElement.classList.contains("composer-input")), true, "the focus back in the composer");
    await g.keyboard.press("Enter");
    await waitItem(dave.c, "Your refund is on its way: 3 to 5 working days.");

    // --- files: the agent sends one, the customer downloads it; too large is refused ---
    assert.match(await carla.pane.locator(".file-hint").textContent(), /^Up to 2\.0 KB; txt, pdf, png$/);
    const note = "Parcel 2: tracking 00340434161234567890\n";
    await carla.pane.locator(".file-input").setInputFiles({ name: "tracking.txt", mimeType: "text/plain", buffer: Buffer.from(note) });
    const sent = await waitFor("the file in the widget", async () => (await items(carla.c)).find((i) => /Download tracking\.txt/.test(i.text)));
    const [cdl] = await Promise.all([carla.c.waitForEvent("download"), w(carla.c, `.item[data-index="${sent.index}"] button.linkbtn`).click()]);
    assert.equal(cdl.suggestedFilename(), "tracking.txt");
    assert.equal(readFileSync(await cdl.path(), "utf8"), note);
    await carla.pane.locator(".file-input").setInputFiles({ name: "big.txt", mimeType: "text/plain", buffer: Buffer.from("x".repeat(3000)) });
    await waitFor("the server's size refusal", async () => /upload-max-file-size 2000/.test(await carla.pane.locator(".pane-status").textContent()));
    assert.equal(await carla.pane.locator(".pane-status").getAttribute("class"), "pane-status error");
    await carla.pane.locator(".file-input").setInputFiles({ name: "tool.exe", mimeType: "application/octet-stream", buffer: Buffer.from("MZ") });
    await waitFor("the server's type refusal", async () => /file type "exe"/.test(await carla.pane.locator(".pane-status").textContent()));
    assert.ok(!(await items(carla.c)).some((i) => /big\.txt|tool\.exe/.test(i.text)), "a refused file reached the customer");

    // --- the customer sends one; the agent downloads it ---
    const invoice = "invoice 2026-118: 42.00 EUR\n";
    const [chooser] = await Promise.all([carla.c.waitForEvent("filechooser"), w(carla.c, "button[aria-label='Attach a file']").click()]);
    await chooser.setFiles({ name: "invoice.txt", mimeType: "text/plain", buffer: Buffer.from(invoice) });
    const theirs = carla.pane.getByRole("button", { name: /^Download invoice\.txt/ });
    await theirs.waitFor({ timeout: 10000 });
    const [gdl] = await Promise.all([g.waitForEvent("download"), theirs.click()]);
    assert.equal(gdl.suggestedFilename(), "invoice.txt");
    assert.equal(readFileSync(await gdl.path(), "utf8"), invoice);

    // --- contact history: Carla's earlier chat (bob's), read-only; Dave has none ---
    await carla.pane.getByRole("button", { name: "Contact history" }).click();
    const hist = carla.pane.locator(".history");
    const item = hist.locator(`.history-item[data-chat-id="${earlier.chatId}"]`);
    await item.waitFor({ timeout: 10000 });
    assert.match(await item.innerText(), /Order 4711/);
    assert.equal(await hist.locator(".history-item").count(), 1, "only the earlier chat (not the current one)");
    await item.click();
    await waitFor("the earlier transcript", async () => (await hist.locator(".log").innerText()).includes("Your order 4711 ships on Monday."));
    assert.equal(await hist.locator("textarea, input, .file-link").count(), 0, "read-only");
    await dave.pane.getByRole("button", { name: "Contact history" }).click();
    await waitFor("Dave's empty history", async () => /No earlier chats/.test(await dave.pane.locator(".history").innerText()));
    await dave.pane.getByRole("button", { name: "Contact history" }).click();
    assert.ok(await dave.pane.locator(".history").isHidden());
    const shown = await carla.pane.locator(".chat-log [data-index]").evaluateAll((els) => els.map((e) => Number(e.dataset.index)));
    assert.deepEqual(shown, [...new Set(shown)].sort((x, y) => x - y), "each event once, in order");
    await noViolations(g, "agent with two chats and contact history");
    await screenshot(g, "agent-desk", consoleShotDir);

    // --- Dave has been quiet past async-idle-alert: status 3 and the check-at time ---
    await waitFor("Dave's idle alert in his pane", async () => (await dave.pane.locator(".chat-meta").getAttribute("data-async-status")) === "3", { timeout: 30000 });
    assert.equal(await dave.pane.locator(".async-status").textContent(), "Async status 3: idle alert");
    assert.match(await dave.pane.locator(".check-at").textContent(), /^check at \d{1,2}:\d{2}/);

    // --- a 390 px phone: the chat list and one pane ---
    await g.setViewportSize({ width: 390, height: 844 });
    await dave.pane.locator(".composer-input").focus();
    assert.ok(await carla.pane.isHidden(), "one pane on a phone");
    assert.ok(await dave.pane.isVisible());
    await g.locator("#chats .chat-link", { hasText: "Carla" }).click();
    await waitFor("Carla's pane shown", () => carla.pane.isVisible());
    assert.ok(await dave.pane.isHidden());
    assert.equal(await g.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, "no horizontal scrolling");
    await noViolations(g, "agent desk on a phone");
    await screenshot(g, "agent-desk-phone", consoleShotDir);

    for (const k of customers) await k.ctx.close();
    await gctx.close();
    await actx.close();
  });

  it("a send whose answer is lost is not sent twice (Idempotency-Key, transcript check)", async () => {
    const made = await fetch(`${server.httpURL}/admin/accounts/erin`, {
      method: "PUT", headers: { Authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ displayName: "Erin", role: "agent", queues: [SVC], password: "erin-password-1" }),
    });
    assert.equal(made.status, 200);
    const proxy = await MuteProxy.start(server.addr);
    try {
      const gctx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
      const g = await newPage(gctx);
      await g.goto(`${proxy.url}/agent/`);
      await g.locator("#login-id").fill("erin");
      await g.locator("#login-password").fill("erin-password-1");
      await g.locator("#login-password").press("Enter");
      await waitFor("the CometD session", async () => (await g.locator("#conn").textContent()) === "Connected", { timeout: 15000 });
      await g.locator("#state-ready").click();
      await waitFor("ready", async () => (await g.locator("#presence").textContent()) === "Ready");
      const cctx = await browser.newContext();
      const c = await newPage(cctx);
      pages.push(c);
      await c.goto(`${server.httpURL}/`);
      const s = await startChat(c, { name: "Mia" });
      await type(c, "is anyone there?");
      await g.locator("#offers li").waitFor({ timeout: 15000 });
      await g.locator("#offers li").getByRole("button", { name: /^Accept/ }).click();
      const pane = g.locator(`.chat-pane[data-chat-id="${s.chatId}"]`);
      await waitFor("the transcript", async () => (await pane.locator(".chat-log").innerText()).includes("is anyone there?"), { timeout: 10000 });

      // The request reaches the server, its answer never comes back.
      proxy.mute();
      const input = pane.locator(".composer-input");
      await input.fill("Yes, I am here.");
      await input.press("Enter");
      const agentTexts = async () => (await otherSide(server).transcript(s)).messages
        .filter((e) => e.type === "Message" && e.from.type === "Agent").map((e) => e.text);
      await waitFor("the server to hold the message", async () => (await agentTexts()).length === 1, { timeout: 10000 });
      proxy.unmute();
      // Every connection is reset: the send's answer is lost. Chromium may retry the POST on
      // a new connection by itself (with the same Idempotency-Key, answered from the first
      // call), or report the failure; then the pane finds the message in the transcript
      // after CometD reconnects, or the agent sends again with the same key.
      proxy.sever();
      await waitFor("the send settled", async () => {
        if ((await input.inputValue()) === "") return true;
        if ((await g.locator("#conn").textContent()) === "Connected" && /error/.test(await pane.locator(".pane-status").getAttribute("class"))) {
          await input.press("Enter");
        }
        return false;
      }, { timeout: 30000, every: 500 });
      await input.press("Enter"); // nothing left to send
      await waitItem(c, "Yes, I am here.");
      assert.deepEqual(await agentTexts(), ["Yes, I am here."], "stored once");
      assert.equal((await items(c)).filter((i) => i.text === "Yes, I am here.").length, 1, "shown once to the customer");
      assert.deepEqual(await pane.locator(".chat-log .msg .text").allInnerTexts(), ["is anyone there?", "Yes, I am here."], "shown once to the agent");
      assert.deepEqual(g.errors.filter((e) => !/ERR_CONNECTION|Failed to load resource|WebSocket/.test(e)), [],
        "the console logged errors other than the network faults the test made");
      await gctx.close();
      await cctx.close();
    } finally {
      await proxy.close();
    }
  });
});
