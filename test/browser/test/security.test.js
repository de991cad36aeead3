// Console security in headless Chromium against the real binary (docs/consoles.md,
// "Security"): each console without a session is its login view only (no data view in the
// DOM, axe-core zero violations); after the login the session is an HttpOnly,
// SameSite=Strict cookie; a state-changing request the page makes without the CSRF token
// (fetch from the page itself, with the cookie) is refused 403 and changes nothing, the same
// request with the session's token goes through; the admin's change and the refused attempt
// are in the admin console's audit log, which holds no secret. Screenshot:
// docs/consoles/admin-audit.png.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer } from "../../clients/lib/server.js";
import { waitFor } from "../../clients/lib/wait.js";
import { launch, newPage, screenshot, consoleShotDir } from "../lib/browser.js";
import { axe } from "../lib/axe.js";
import { SVC } from "../lib/chat.js";

const ADMIN = "security-test-admin-token-0123456789";
const EVE_PASSWORD = "eve-password-never-logged";

async function noViolations(p, what) {
  const r = await axe(p, what);
  assert.deepEqual(r.violations, [], what);
  assert.ok(r.checked > 10, `${what}: axe checked only ${r.checked} rules`);
}

// pageFetch makes a request from the page (same origin, the browser's cookies), with the
// given extra headers, and answers {status, json}.
function pageFetch(p, method, path, body, headers = {}) {
  return p.evaluate(async ({ method, path, body, headers }) => {
    const r = await fetch(path, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  }, { method, path, body, headers });
}

// loginViewOnly: the page is its login form and nothing of the console.
async function loginViewOnly(p, dataSelectors) {
  await p.locator("#login-form").waitFor({ state: "visible" });
  assert.equal(await p.locator('[data-view="main"]').count(), 0, "a data view in the login page");
  for (const sel of dataSelectors) assert.equal(await p.locator(sel).count(), 0, `${sel} in the login page`);
}

function sessionCookie(cookies, name) {
  const c = cookies.find((k) => k.name === name);
  assert.ok(c, `no ${name} cookie`);
  assert.equal(c.httpOnly, true);
  assert.equal(c.sameSite, "Strict");
  return c;
}

const refused = "console: Failed to load resource: the server responded with a status of 403 (Forbidden)";

describe("console security", () => {
  let server, browser;
  const bearer = (method, path, body) => fetch(`${server.httpURL}${path}`, {
    method, headers: { Authorization: `Bearer ${ADMIN}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

  before(async () => {
    server = await new ChatgateServer({ name: "chatgate-security", args: ["--admin-token", ADMIN] }).start();
    browser = await launch();
    for (const [id, role] of [["ann", "agent"], ["sue", "supervisor"]]) {
      const r = await bearer("PUT", `/admin/accounts/${id}`, { displayName: id, role, queues: [SVC], password: `${id}-password-1` });
      assert.equal(r.status, 200);
    }
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it("admin console: login view only, cookie session, CSRF refused, the audit log lists the change without secrets", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const a = await newPage(ctx);
    await a.goto(`${server.httpURL}/admin/`);
    await loginViewOnly(a, ["#account-form", "#audit-section", "#responses-section"]);
    await noViolations(a, "admin login view");
    // Without a session even the page's own fetch is refused.
    assert.equal((await pageFetch(a, "GET", "/admin/audit")).status, 401);
    assert.deepEqual(a.errors.splice(0), ["console: Failed to load resource: the server responded with a status of 401 (Unauthorized)"]);

    await a.locator("#admin-token").fill(ADMIN);
    await a.keyboard.press("Enter");
    await a.locator("#account-form").waitFor({ state: "visible" });
    const ck = sessionCookie(await ctx.cookies(), "chatgate_admin");
    assert.ok(!ck.value.includes(ADMIN), "the cookie is not the admin token");
    assert.equal(await a.evaluate(() => sessionStorage.length + localStorage.length + document.cookie.length), 0, "nothing readable by a script");

    // A change without the CSRF token: 403 csrf, nothing made.
    const eve = { displayName: "Eve", role: "agent", password: EVE_PASSWORD };
    const r = await pageFetch(a, "PUT", "/admin/accounts/eve", eve);
    assert.equal(r.status, 403);
    assert.equal(r.json.code, "csrf");
    assert.deepEqual(a.errors.splice(0), [refused]);
    assert.equal((await bearer("GET", "/admin/accounts/eve")).status, 404, "the refused change made nothing");

    // The console's own form (with the token) makes it.
    await a.locator("#acct-id").fill("eve");
    await a.locator("#acct-name").fill("Eve");
    await a.locator("#acct-password").fill(EVE_PASSWORD);
    await a.locator("#acct-password").press("Enter");
    await a.locator('#accounts tr[data-id="eve"]').waitFor({ timeout: 10000 });

    // The audit log shows the change (who, what, the answer) and the refused attempt.
    await a.locator("#audit-refresh").click();
    const rows = a.locator("#audit tr");
    await waitFor("the change in the audit log", async () => (await rows.count()) >= 2);
    const cells = await rows.evaluateAll((rs) => rs.slice(0, 2).map((r) => [...r.children].slice(1).map((c) => c.innerText)));
    assert.match(cells[0][0], /^admin \(admin console [0-9a-f]{8}\)$/);
    assert.match(cells[0][1], /^PUT \/admin\/accounts\/\{id\}\n\/admin\/accounts\/eve$/);
    assert.equal(cells[0][2], "account eve: put role agent, 0 queues, capacity 0, password set");
    assert.equal(cells[0][3], "200");
    assert.match(cells[1][1], /^PUT \/admin\/accounts\/\*/);
    assert.equal(cells[1][3], "403");
    const text = await a.locator("#audit-section").innerText();
    for (const secret of [EVE_PASSWORD, ADMIN, ck.value]) assert.ok(!text.includes(secret), "a secret in the audit log");
    const raw = await (await bearer("GET", "/admin/audit")).text();
    for (const secret of [EVE_PASSWORD, ADMIN, ck.value]) assert.ok(!raw.includes(secret), "a secret in the stored audit records");
    await noViolations(a, "admin console with the audit log");
    await a.locator("#audit-section").scrollIntoViewIfNeeded();
    await screenshot(a, "admin-audit", consoleShotDir);

    // Log out: the login view again and the session revoked on the server.
    await a.locator("#logout").click();
    await a.locator("#admin-token").waitFor({ state: "visible" });
    assert.equal(await a.locator("#account-form").count(), 0);
    const again = await fetch(`${server.httpURL}/admin/accounts/`, { headers: { Cookie: `chatgate_admin=${ck.value}` } });
    assert.equal(again.status, 401, "the session is revoked, not only forgotten by the browser");
    assert.deepEqual(a.errors, []);
    await ctx.close();
  });

  it("agent and supervisor consoles: login view only, CSRF refused, the session's token accepted", async () => {
    for (const c of [
      { path: "/agent/", id: "ann", data: ["#presence", "#offers"], ready: "#presence" },
      { path: "/supervisor/", id: "sue", data: ["#queues", "#agents"], ready: "#queues" },
    ]) {
      const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
      const p = await newPage(ctx);
      await p.goto(`${server.httpURL}${c.path}`);
      await loginViewOnly(p, c.data);
      await noViolations(p, `${c.path} login view`);
      await p.locator("#login-id").fill(c.id);
      await p.locator("#login-password").fill(`${c.id}-password-1`);
      await p.locator("#login-password").press("Enter");
      await p.locator(c.ready).waitFor({ state: "visible" });
      sessionCookie(await ctx.cookies(), "chatgate_console");
      const before = (await pageFetch(p, "GET", "/agent/v1/me")).json.presence.state;
      assert.notEqual(before, "ready");

      const r = await pageFetch(p, "PUT", "/agent/v1/me/state", { state: "ready" });
      assert.equal(r.status, 403, `${c.path}: a change without the CSRF token`);
      assert.equal(r.json.code, "csrf");
      assert.deepEqual(p.errors.splice(0), [refused]);
      const wrong = await pageFetch(p, "PUT", "/agent/v1/me/state", { state: "ready" }, { "X-CSRF-Token": "not-the-token" });
      assert.equal(wrong.status, 403);
      assert.deepEqual(p.errors.splice(0), [refused]);
      assert.equal((await pageFetch(p, "GET", "/agent/v1/me")).json.presence.state, before, "the refused change did nothing");

      const { csrfToken } = (await pageFetch(p, "GET", "/agent/v1/session")).json;
      const ok = await pageFetch(p, "PUT", "/agent/v1/me/state", { state: "ready" }, { "X-CSRF-Token": csrfToken });
      assert.equal(ok.status, 200);
      assert.equal((await pageFetch(p, "GET", "/agent/v1/me")).json.presence.state, "ready");
      await noViolations(p, `${c.path} after the login`);
      assert.deepEqual(p.errors, []);
      await ctx.close();
    }
  });
});
