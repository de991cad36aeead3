// The supervisor wall board is live over CometD (/agent/{id}/board, web/console/src/board.js)
// in headless Chromium against the real binary. With every REST supervisor list route
// answered by an aborted request (page.route), the board still shows a customer's new chat
// and its status change when an agent accepts it, and the page made no request to those
// routes at all: what it shows came over CometD. Then CometD is cut (its HTTP transports
// aborted and its websocket closed): the page says the live updates are down and reads the
// REST lists instead, and a change shows that way; when CometD is back the page is live
// again and stops polling. axe-core zero violations; screenshot docs/consoles/supervisor-live.png.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer } from "../../clients/lib/server.js";
import { waitFor } from "../../clients/lib/wait.js";
import { launch, newPage, screenshot, consoleShotDir } from "../lib/browser.js";
import { axe } from "../lib/axe.js";
import { SVC, startChat, type, waitItem } from "../lib/chat.js";
import { jsonRequest } from "../../clients/lib/http.js";

const ADMIN = "supervisor-live-admin-token-0123456789";
const LISTS = /\/agent\/v1\/supervisor\//;
const COMETD = /\/genesys\/cometd/;

describe("supervisor console, live board", () => {
  let server, browser;
  const pages = [];
  const http = (method, path, token, body) => jsonRequest(server.httpURL, method, path, token, body);

  before(async () => {
    server = await new ChatgateServer({ name: "chatgate-supervisor-live", args: ["--admin-token", ADMIN] }).start();
    browser = await launch();
  });
  after(async () => {
    for (const p of pages) assert.deepEqual(p.errors, [], "a page logged errors");
    await browser?.close();
    await server?.close();
  });

  it("shows a new chat and its status change with the REST lists blocked, polls only while CometD is down", async () => {
    for (const [id, spec] of Object.entries({
      sue: { displayName: "Sue Supervisor", role: "supervisor" },
      ann: { displayName: "Ann Agent", role: "agent", capacity: 2 },
    })) {
      const r = await http("PUT", `/admin/accounts/${id}`, ADMIN, { queues: [SVC], password: `${id}-password-1`, ...spec });
      assert.equal(r.status, 200, JSON.stringify(r.json));
    }
    const ann = (await fetch(`${server.httpURL}/agent/v1/login`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ id: "ann", password: "ann-password-1" }),
    }).then((r) => r.json())).token;
    assert.ok(ann);
    assert.equal((await http("PUT", "/agent/v1/me/state", ann, { state: "not-ready" })).status, 200);

    // --- every REST supervisor list request is counted and aborted ---
    const sctx = await browser.newContext({ viewport: { width: 1200, height: 1400 } });
    const s = await newPage(sctx);
    pages.push(s);
    let listRequests = 0;
    let blockLists = true;
    await s.route(LISTS, (route) => {
      listRequests++;
      return blockLists ? route.abort() : route.continue();
    });
    // CometD over long-polling (the websocket is refused, the client falls back), so that
    // the test can cut it: while cut, every CometD request fails, also the answer of one
    // already held.
    let cut = false;
    await s.routeWebSocket(COMETD, (ws) => ws.close());
    await s.route(COMETD, async (route) => {
      if (cut) return route.abort();
      const resp = await route.fetch().catch(() => null);
      if (!resp || cut) return route.abort();
      return route.fulfill({ response: resp });
    });
    await s.goto(`${server.httpURL}/supervisor/`);
    await s.locator("#login-id").waitFor();
    await s.locator("#login-id").fill("sue");
    await s.locator("#login-password").fill("sue-password-1");
    await s.locator("#login-password").press("Enter");
    const badge = s.locator("#updated");
    await waitFor("the live board", async () => (await badge.textContent()) === "Live", { timeout: 15000 });
    // The snapshot drew the board: the queue, the agent, the chart's first sample.
    const annRow = s.locator('#agents tr[data-agent="ann"]');
    await annRow.waitFor({ timeout: 10000 });
    assert.match(await annRow.innerText(), /^Ann Agent\tNot ready/);
    await s.locator(`#queues tr[data-queue="${SVC}"]`).waitFor();
    assert.match(await s.locator("#chart svg").getAttribute("aria-label"), /Last hour \([1-9]\d* samples\)/);
    assert.equal(listRequests, 0, "the snapshot came without a REST list request");

    // --- a customer's new chat appears, waiting ---
    const cctx = await browser.newContext({ viewport: { width: 900, height: 720 } });
    const c = await newPage(cctx);
    pages.push(c);
    await c.goto(`${server.httpURL}/`);
    const chat = await startChat(c, { name: "Carla" });
    await type(c, "Where is my parcel?");
    await waitItem(c, "Where is my parcel?", { state: "sent" });
    const q = s.locator(`#queues tr[data-queue="${SVC}"]`);
    await waitFor("the waiting chat in the queue", async () => (await q.locator('[data-col="waiting"]').textContent()) === "1", { timeout: 10000 });
    const row = s.locator(`#live tr[data-chat="${chat.chatId}"]`);
    await row.waitFor({ timeout: 10000 });
    assert.match(await row.innerText(), /^Carla\t/);
    const statusOf = async () => (await row.locator("td").nth(2).textContent());
    assert.match(await statusOf(), /^(new \(1\)|customer wrote \(2\)|waiting)$/);

    // --- ann accepts: the status changes to handled (-1), the agent's chat count too ---
    assert.equal((await http("PUT", "/agent/v1/me/state", ann, { state: "ready" })).status, 200);
    await waitFor("ann's accept", async () => (await http("POST", `/agent/v1/chats/${chat.chatId}/accept`, ann, {})).status === 200, { timeout: 15000, every: 100 });
    await waitFor("the status change on the board", async () => (await statusOf()) === "agent handles it (-1)", { timeout: 10000 });
    await waitFor("ann's chat count", async () => /\t1 of 2\t/.test(await annRow.innerText()), { timeout: 10000 });
    assert.match(await row.innerText(), /Ann Agent/);
    assert.equal(await q.locator('[data-col="waiting"]').textContent(), "0");
    assert.equal(listRequests, 0, "no REST list request while the updates arrived");
    assert.equal(await badge.textContent(), "Live");
    await noViolations(s, "supervisor board, live");
    await screenshot(s, "supervisor-live", consoleShotDir);

    // --- CometD cut: the page says so and polls the REST lists ---
    cut = true;
    blockLists = false;
    // A change answers the held /meta/connect, whose answer is then cut like every later request.
    assert.equal((await http("POST", `/agent/v1/chats/${chat.chatId}/send`, ann, { text: "I am on it" })).status, 200);
    await waitFor("the fallback notice", async () => /Live updates are down/.test(await badge.textContent()), { timeout: 20000 });
    await waitFor("REST list requests while CometD is down", () => listRequests > 0, { timeout: 10000 });
    assert.equal((await http("POST", `/agent/v1/chats/${chat.chatId}/hold`, ann, {})).status, 200);
    await waitFor("the hold shown by polling", async () => (await statusOf()) === "on hold (-2)", { timeout: 10000 });
    await noViolations(s, "supervisor board, polling");

    // --- CometD back: live again, the polling stops ---
    cut = false;
    await waitFor("the live board again", async () => (await badge.textContent()) === "Live", { timeout: 30000 });
    const samples = async () => Number((/\((\d+) samples\)/.exec(await s.locator("#chart svg").getAttribute("aria-label")) || [])[1] || 0);
    const n0 = await samples();
    await waitFor("a live sample", async () => (await samples()) > n0, { timeout: 15000 });
    const after = listRequests;
    assert.equal((await http("POST", `/agent/v1/chats/${chat.chatId}/join`, ann, {})).status, 200);
    await waitFor("the reopened chat on the live board", async () => (await statusOf()) === "agent handles it (-1)", { timeout: 10000 });
    // Two more samples are at least 10 s apart: polling would have read the lists 3 times.
    const n1 = await samples();
    await waitFor("two more live samples", async () => (await samples()) >= n1 + 2, { timeout: 25000 });
    assert.equal(listRequests, after, "no REST list request once the board is live again");
    assert.equal(await badge.textContent(), "Live");
    // What the cut made Chromium log: the refused CometD requests (and the websocket closed
    // by the test, which forces long-polling).
    s.errors = s.errors.filter((e) => !/Failed to load resource: net::ERR_FAILED|WebSocket/.test(e));
  });
});

async function noViolations(p, what) {
  const r = await axe(p, what);
  assert.deepEqual(r.violations, []);
  assert.ok(r.checked > 10, `${what}: axe checked only ${r.checked} rules`);
}
