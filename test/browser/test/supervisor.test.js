// The supervisor wall board (/supervisor/, web/console/src/supervisor.js) in headless
// Chromium against the real binary: an agent's account is refused, a supervisor logs in
// with the keyboard, sees a
// customer's chat waiting in its queue and the agent in the agent list, the agent accepts
// the chat (agent API over REST), the supervisor monitors it (transcript shown), coaches
// (the agent sees the message, the customer's REST transcript and widget never do) and barges
// in (the customer sees it). axe-core finds zero violations on the login, the board and the
// board at phone width; the screenshot goes to docs/consoles/supervisor.png.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer } from "../../clients/lib/server.js";
import { waitFor } from "../../clients/lib/wait.js";
import { launch, newPage, screenshot, consoleShotDir } from "../lib/browser.js";
import { axe } from "../lib/axe.js";
import { SVC, startChat, type, items, waitItem, otherSide } from "../lib/chat.js";
import { jsonRequest } from "../../clients/lib/http.js";

const ADMIN = "supervisor-test-admin-token-0123456789";

async function noViolations(p, what) {
  const r = await axe(p, what);
  assert.deepEqual(r.violations, []);
  assert.ok(r.checked > 10, `${what}: axe checked only ${r.checked} rules`);
}

describe("supervisor console", () => {
  let server, browser;
  const pages = [];
  const http = (method, path, token, body) => jsonRequest(server.httpURL, method, path, token, body);
  const account = async (id, spec) => {
    const r = await http("PUT", `/admin/accounts/${id}`, ADMIN, { queues: [SVC], password: `${id}-password-1`, ...spec });
    assert.equal(r.status, 200, JSON.stringify(r.json));
  };

  before(async () => {
    server = await new ChatgateServer({ name: "chatgate-supervisor", args: ["--admin-token", ADMIN] }).start();
    browser = await launch();
  });
  after(async () => {
    for (const p of pages) assert.deepEqual(p.errors, [], "a page logged errors");
    await browser?.close();
    await server?.close();
  });

  it("a supervisor sees the queue and the agents, monitors, coaches and barges into a chat", async () => {
    await account("sue", { displayName: "Sue Supervisor", role: "supervisor" });
    await account("ann", { displayName: "Ann Agent", role: "agent", capacity: 2 });
    const login = await fetch(`${server.httpURL}/agent/v1/login`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ id: "ann", password: "ann-password-1" }),
    }).then((r) => r.json());
    assert.ok(login.token, JSON.stringify(login));
    const ann = login.token;
    // Like a desktop at start: the agent states its presence (not ready yet).
    assert.equal((await http("PUT", "/agent/v1/me/state", ann, { state: "not-ready" })).status, 200);

    // --- the supervisor logs in with the keyboard ---
    const sctx = await browser.newContext({ viewport: { width: 1200, height: 1400 } });
    const s = await newPage(sctx);
    pages.push(s);
    const resp = await s.goto(`${server.httpURL}/supervisor/`);
    assert.equal(resp.status(), 200);
    assert.doesNotMatch(resp.headers()["content-security-policy"], /unsafe-inline|unsafe-eval/);
    await s.locator("#login-id").waitFor();
    await waitFor("the focus on the id field", () => s.evaluate(() => document.activeElement.id === "login-id"));
    await noViolations(s, "supervisor login");
    // An agent's account is not let in (the page is behind its role), and the attempt does
    // not touch the agent's presence (asserted below: still not ready).
    await s.keyboard.type("ann");
    await s.keyboard.press("Tab");
    await s.keyboard.type("ann-password-1");
    await s.keyboard.press("Enter");
    await waitFor("the refusal of an agent", async () => /not a supervisor/.test(await s.locator("#login-status").textContent()));
    assert.deepEqual(await sctx.cookies(), [], "a refused login leaves no session cookie");
    // The server refused it (403), which Chromium logs.
    assert.deepEqual(s.errors.splice(0), ["console: Failed to load resource: the server responded with a status of 403 (Forbidden)"]);
    await s.locator("#login-id").fill("");
    await s.locator("#login-password").fill("");
    await s.locator("#login-id").focus();
    await s.keyboard.type("sue");
    await s.keyboard.press("Tab");
    await s.keyboard.type("sue-password-1");
    await s.keyboard.press("Enter");
    await s.locator("#queues").waitFor({ state: "visible" });
    assert.match(await s.locator("#who").textContent(), /Sue Supervisor/);

    // --- the agent list shows ann, not ready ---
    const annRow = s.locator('#agents tr[data-agent="ann"]');
    await annRow.waitFor({ timeout: 10000 });
    assert.match(await annRow.innerText(), /^Ann Agent\tNot ready/);

    // --- a customer writes; the chat waits in the queue (no agent is ready) ---
    const cctx = await browser.newContext({ viewport: { width: 900, height: 720 } });
    const c = await newPage(cctx);
    pages.push(c);
    await c.goto(`${server.httpURL}/`);
    const chat = await startChat(c, { name: "Carla" });
    await type(c, "Hello, my parcel is late");
    await waitItem(c, "Hello, my parcel is late", { state: "sent" });
    const q = s.locator(`#queues tr[data-queue="${SVC}"]`);
    await waitFor("the waiting chat on the board", async () =>
      (await q.locator('[data-col="waiting"]').count()) && (await q.locator('[data-col="waiting"]').textContent()) === "1", { timeout: 15000 });
    assert.match(await q.locator('[data-col="longest"]').textContent(), /^\d+ (s|min \d\d s)$/);
    const live = s.locator(`#live tr[data-chat="${chat.chatId}"]`);
    await live.waitFor({ timeout: 10000 });
    assert.match(await live.innerText(), /^Carla\t/);

    // --- ann gets ready and accepts the offer ---
    assert.equal((await http("PUT", "/agent/v1/me/state", ann, { state: "ready" })).status, 200);
    await waitFor("ann's accept", async () => (await http("POST", `/agent/v1/chats/${chat.chatId}/accept`, ann, {})).status === 200, { timeout: 15000, every: 100 });
    await waitFor("ann in the chat on the board", async () => /Ann Agent/.test(await live.innerText()), { timeout: 10000 });
    await waitFor("ann's chat count", async () => /\t1 of 2\t/.test(await annRow.innerText()), { timeout: 10000 });
    assert.equal((await http("POST", `/agent/v1/chats/${chat.chatId}/send`, ann, { text: "Let me check that for you" })).status, 200);

    // --- monitor: the transcript, nobody sees the supervisor ---
    await live.getByRole("button", { name: "Monitor the chat with Carla" }).click();
    const log = s.locator("#log");
    await waitFor("the transcript", async () => /Hello, my parcel is late[\s\S]*Let me check that for you/.test(await log.innerText()), { timeout: 10000 });
    assert.equal(await s.locator('button[data-mode="monitor"]').getAttribute("aria-pressed"), "true");
    const annSees = async () => {
      const r = await http("GET", `/agent/v1/chats/${chat.chatId}/transcript?from=1`, ann);
      assert.equal(r.status, 200);
      return r.json.events;
    };
    assert.ok(!(await annSees()).some((e) => e.from && e.from.userId === "sue"), "a monitoring supervisor is invisible to the agent");
    await s.locator("#msg").fill("Note to self: watch the tone");
    await s.locator("#msg").press("Enter");
    await waitFor("the monitor note", async () => (await log.locator('.msg[data-visibility="VIP"]').count()) === 1);

    // --- coach: the agent sees it, the customer never does ---
    // Switched with the keyboard.
    await s.getByRole("button", { name: "Coach" }).focus();
    await s.keyboard.press("Enter");
    await waitFor("coach mode", async () => (await s.locator('button[data-mode="coach"]').getAttribute("aria-pressed")) === "true");
    await s.locator("#msg").fill("Offer a voucher");
    await s.keyboard.press("Enter");
    await waitFor("the coaching message", async () => (await log.locator('.msg[data-visibility="INT"]').innerText().catch(() => "")).includes("Offer a voucher"));
    const seen = await waitFor("the coaching message at the agent", async () => (await annSees()).find((e) => e.text === "Offer a voucher"));
    assert.equal(seen.visibility, "INT");
    assert.ok(!(await annSees()).some((e) => e.text === "Note to self: watch the tone"), "the agent never sees a monitor note");
    await noViolations(s, "supervisor board, coaching");
    await screenshot(s, "supervisor", consoleShotDir);

    // --- barge: everyone sees it ---
    await s.getByRole("button", { name: "Barge in" }).click();
    await waitFor("barge mode", async () => (await s.locator('button[data-mode="barge"]').getAttribute("aria-pressed")) === "true");
    await s.locator("#msg").fill("Hello Carla, I am the team lead");
    await s.keyboard.press("Enter");
    await waitItem(c, "Hello Carla, I am the team lead");

    // The customer's REST transcript has the messages meant for it and none of the others.
    const tr = JSON.stringify(await otherSide(server).transcript(chat));
    assert.match(tr, /Hello, my parcel is late/);
    assert.match(tr, /Let me check that for you/);
    assert.match(tr, /Hello Carla, I am the team lead/);
    assert.doesNotMatch(tr, /Offer a voucher|Note to self/);
    const widgetTexts = (await items(c)).map((i) => i.text).join("\n");
    assert.doesNotMatch(widgetTexts, /Offer a voucher|Note to self/);

    // --- the chart drew live samples; phone width ---
    // The server samples every 10 s; a snapshot brings the last hour.
    await waitFor("two samples in the chart", async () =>
      ((await s.locator('#chart polyline[data-series="open"]').getAttribute("points").catch(() => "")) || "").split(" ").length >= 2, { timeout: 15000 });
    await waitFor("a sample with the accepted chat", async () =>
      /now 1 open chats, 0 waiting/.test(await s.locator("#chart svg").getAttribute("aria-label")), { timeout: 15000 });
    await s.setViewportSize({ width: 390, height: 844 });
    assert.ok(await s.evaluate(() => document.documentElement.scrollWidth <= 390), "no horizontal scrolling at phone width");
    await noViolations(s, "supervisor board, phone");

    // --- a reload keeps the session (the cookie) and the supervisor's place in the chat:
    // the chat is opened again without a second join, in the mode the server kept ---
    await s.setViewportSize({ width: 1200, height: 1400 });
    await s.reload();
    await s.locator("#queues").waitFor({ state: "visible" });
    assert.ok(await s.locator("#login-form").isHidden(), "no second login after a reload");
    await live.getByRole("button", { name: "Open the chat with Carla" }).click();
    await waitFor("the transcript after the reload", async () => /Hello Carla, I am the team lead/.test(await log.innerText()), { timeout: 10000 });
    assert.equal(await s.locator('button[data-mode="barge"]').getAttribute("aria-pressed"), "true");

    // --- leave: the supervisor is out of the chat ---
    await s.getByRole("button", { name: "Leave" }).click();
    await s.locator("#watch").waitFor({ state: "hidden" });
    const sue = (await sctx.cookies()).find((k) => k.name === "chatgate_console").value;
    const view = await http("GET", `/agent/v1/chats/${chat.chatId}`, sue);
    assert.equal(view.status, 200);
    assert.notEqual((view.json.chat || view.json).state, "joined", "the supervisor left the chat");
    await live.getByRole("button", { name: "Monitor the chat with Carla" }).waitFor();
    assert.deepEqual((await sctx.cookies()).map((k) => [k.name, k.httpOnly]).sort(), [["BAYEUX_BROWSER", true], ["chatgate_console", true]],
      "the supervisor console's cookies are its session and the Bayeux server's browser id");
    assert.equal((await sctx.cookies()).find((k) => k.name === "chatgate_console").sameSite, "Strict");
  });
});
