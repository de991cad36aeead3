// The agent and admin consoles (web/console) in headless Chromium against the real binary:
// an admin logs in to /admin/ and creates an agent; the agent logs in to /agent/ with the
// keyboard, gets ready, a customer opens the widget and writes, the offer arrives in real
// time (CometD), the agent accepts, they chat both ways (typing shown both ways), the agent places the chat on hold,
// the customer writes again, the chat is offered again and accepted, the agent transfers it
// to a second agent (created in the admin console), who invites the first one back
// (conference) and ends it and marks it done with a
// disposition. Every page
// carries the CSP, logs no error (a CSP violation is a console error), keeps no cookie and
// passes axe-core with zero violations; screenshots go to docs/consoles/.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer } from "../../clients/lib/server.js";
import { waitFor } from "../../clients/lib/wait.js";
import { launch, newPage, w, screenshot, consoleShotDir } from "../lib/browser.js";
import { axe } from "../lib/axe.js";
import { SVC, startChat, type, waitItem } from "../lib/chat.js";
import { SeverableProxy } from "../../clients/lib/proxy.js";

const ADMIN = "console-test-admin-token-0123456789";

// assertPage checks the headers of a console page.
function assertPage(resp) {
  assert.equal(resp.status(), 200);
  const csp = resp.headers()["content-security-policy"];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.match(resp.headers()["content-type"], /^text\/html/);
}

async function noViolations(p, what) {
  const r = await axe(p, what);
  assert.deepEqual(r.violations, []);
  assert.ok(r.checked > 10, `${what}: axe checked only ${r.checked} rules`);
}

const logText = (p) => p.locator(".chat-pane .log").innerText();

describe("consoles", () => {
  let server, browser;
  const pages = [];
  before(async () => {
    server = await new ChatgateServer({ name: "chatgate-console", args: ["--admin-token", ADMIN] }).start();
    browser = await launch();
  });
  after(async () => {
    for (const p of pages) assert.deepEqual(p.errors, [], "a console logged errors");
    await browser?.close();
    await server?.close();
  });

  it("admin creates agents; an agent takes a customer's chat, they talk, hold and re-offer, transfer, the second agent ends it", async () => {
    // --- admin console ---
    const actx = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const a = await newPage(actx);
    pages.push(a);
    assertPage(await a.goto(`${server.httpURL}/admin/`));
    await a.locator("#admin-token").waitFor();
    await noViolations(a, "admin login");
    await a.locator("#admin-token").fill("not-the-admin-token");
    await a.keyboard.press("Enter");
    await waitFor("the refusal", async () => /refused/.test(await a.locator("#login-status").textContent()));
    await a.locator("#admin-token").fill(ADMIN);
    await a.keyboard.press("Enter");
    await a.locator("#account-form").waitFor({ state: "visible" });
    await a.locator("#acct-id").fill("ann");
    await a.locator("#acct-name").fill("Ann Agent");
    await a.locator("#acct-role").selectOption("agent");
    await a.locator("#acct-queues").fill(SVC);
    await a.locator("#acct-capacity").fill("2");
    await a.locator("#acct-password").fill("short");
    await a.locator("#acct-password").press("Enter");
    await waitFor("the server's validation message", async () =>
      (await a.locator("#account-status").getAttribute("class")) === "error");
    await a.locator("#acct-password").fill("ann-password-1");
    await a.locator("#acct-password").press("Enter");
    const row = a.locator('#accounts tr[data-id="ann"]');
    await row.waitFor({ timeout: 10000 });
    // The refused token and password were answered 401 and 400, which Chromium logs.
    assert.deepEqual(a.errors.splice(0), [401, 400].map((n) => `console: Failed to load resource: the server responded with a status of ${n} (${n === 401 ? "Unauthorized" : "Bad Request"})`));
    assert.equal(await row.innerText(), "ann\tAnn Agent\tagent\t" + SVC + "\t2\tpassword\tDelete");
    // A temporary account, deleted again (the button asks once more first).
    await a.locator("#acct-id").fill("temp");
    await a.locator("#acct-name").fill("Temp");
    await a.locator("#acct-password").fill("temp-password-1");
    await a.locator("#acct-password").press("Enter");
    await a.locator('#accounts tr[data-id="temp"]').waitFor({ timeout: 10000 });
    await a.getByRole("button", { name: "Delete temp" }).click();
    assert.equal(await a.locator('#accounts tr[data-id="temp"]').count(), 1, "the first click only asks");
    await a.getByRole("button", { name: "Confirm: delete temp" }).click();
    await a.locator('#accounts tr[data-id="temp"]').waitFor({ state: "detached", timeout: 10000 });
    assert.equal((await fetch(`${server.httpURL}/admin/accounts/temp`, { headers: { Authorization: `Bearer ${ADMIN}` } })).status, 404);
    await noViolations(a, "admin accounts");
    await screenshot(a, "admin-accounts", consoleShotDir);
    // The admin console's only cookie is its session: HttpOnly (no script reads it),
    // SameSite=Strict, and not the admin token.
    assert.deepEqual((await actx.cookies()).map((k) => [k.name, k.httpOnly, k.sameSite, k.value.startsWith("cga_")]), [["chatgate_admin", true, "Strict", true]]);

    // --- agent console: log in with the keyboard ---
    const gctx = await browser.newContext({ viewport: { width: 1100, height: 720 }, permissions: ["notifications"] });
    // Record the browser notifications the console shows (the page's own Notification
    // calls go through unchanged).
    await gctx.addInitScript(() => {
      const N = window.Notification;
      window.shownNotifications = [];
      window.Notification = class extends N {
        constructor(title, o) {
          super(title, o);
          window.shownNotifications.push({ title, body: o && o.body });
        }
        static get permission() { return N.permission; }
        static requestPermission() { return N.requestPermission(); }
      };
    });
    const g = await newPage(gctx);
    pages.push(g);
    assertPage(await g.goto(`${server.httpURL}/agent/`));
    await g.locator("#login-id").waitFor();
    await waitFor("the focus on the id field", () => g.evaluate(() => document.activeElement.id === "login-id"));
    await noViolations(g, "agent login");
    await screenshot(g, "agent-login", consoleShotDir);
    await g.keyboard.type("ann");
    await g.keyboard.press("Tab");
    await g.keyboard.type("wrong-password");
    await g.keyboard.press("Enter");
    await waitFor("the wrong-password message", async () => /Wrong id or password/.test(await g.locator("#login-status").textContent()));
    assert.deepEqual(g.errors.splice(0), ["console: Failed to load resource: the server responded with a status of 401 (Unauthorized)"]);
    await g.locator("#login-password").fill("ann-password-1");
    await g.keyboard.press("Enter");
    await g.locator("#presence").waitFor({ state: "visible" });
    await waitFor("the desktop's CometD session", async () => (await g.locator("#conn").textContent()) === "Connected", { timeout: 15000 });
    await waitFor("the focus on Ready", () => g.evaluate(() => document.activeElement.id === "state-ready"));
    await g.keyboard.press("Enter");
    await waitFor("ready", async () => (await g.locator("#presence").textContent()) === "Ready");
    assert.equal(await g.locator("#state-ready").getAttribute("aria-pressed"), "true");

    // --- a customer writes through the widget ---
    const cctx = await browser.newContext({ viewport: { width: 900, height: 720 } });
    const c = await newPage(cctx);
    pages.push(c);
    await c.goto(`${server.httpURL}/`);
    await startChat(c, { name: "Carla" });
    await type(c, "Hello, my parcel is late");
    await waitItem(c, "Hello, my parcel is late", { state: "sent" });

    // --- the offer arrives over CometD; the agent accepts ---
    const offer = g.locator("#offers li");
    await offer.waitFor({ timeout: 15000 });
    assert.deepEqual(await g.evaluate(() => window.shownNotifications), [{ title: "New chat offer", body: `Carla · queue ${SVC}` }]);
    await noViolations(g, "agent with an offer");
    await screenshot(g, "agent-offer", consoleShotDir);
    await offer.getByRole("button", { name: /^Accept/ }).click();
    await waitFor("the customer's message in the transcript", async () => /Hello, my parcel is late/.test(await logText(g)), { timeout: 10000 });
    assert.equal(await g.locator(".chat-pane .chat-title").textContent(), "Carla");
    assert.equal(await g.locator(".chat-pane .chat-meta").getAttribute("data-async-status"), "-1", await g.locator(".chat-pane .chat-meta").textContent());
    assert.equal(await g.locator("#offers li").count(), 0);
    await waitFor("the agent's join in the widget", async () =>
      (await w(c, ".log").innerText()).includes("Ann Agent joined"));

    // --- both ways ---
    await waitFor("the composer focused", () => g.evaluate(() => document.activeElement.classList.contains("composer-input")));
    await g.keyboard.type("Hi Carla, let me check that for you.");
    await waitFor("the agent typing, in the widget", async () => /Ann Agent is typing/.test(await w(c, ".typing").textContent()));
    await g.keyboard.press("Enter");
    await waitItem(c, "Hi Carla, let me check that for you.");
    assert.equal(await w(c, ".typing").textContent(), "", "the message ends the agent's typing indicator");
    await w(c, "textarea.msg-input").fill("Thank you!");
    await waitFor("the customer typing, in the console", async () => (await g.locator(".chat-pane .typing").textContent()) === "Carla is typing…");
    await type(c, "Thank you! Order 4711.");
    await waitFor("the customer's answer, pushed live", async () => /Order 4711/.test(await logText(g)), { timeout: 10000 });
    assert.equal(await g.locator(".chat-pane .typing").textContent(), "", "the message ends the customer's typing indicator");
    const shown = await g.locator(".chat-pane .log [data-index]").evaluateAll((els) => els.map((e) => Number(e.dataset.index)));
    assert.deepEqual(shown, [...new Set(shown)].sort((x, y) => x - y), "each event once, in order");
    await noViolations(g, "agent chatting");
    await screenshot(g, "agent-chat", consoleShotDir);
    await g.setViewportSize({ width: 390, height: 844 });
    await noViolations(g, "agent chatting on a phone");
    await screenshot(g, "agent-phone", consoleShotDir);
    await g.setViewportSize({ width: 1100, height: 720 });

    // --- hold: the chat goes to the workbin; the customer writes; it is offered again ---
    await g.locator('.chat-pane .actions button[data-action="hold"]').click();
    await waitFor("the chat on hold", async () => (await g.locator(".chat-pane .chat-meta").getAttribute("data-async-status")) === "-2",
      { timeout: 10000 });
    assert.equal(await g.locator(".chat-pane .composer-input").isDisabled(), true, "a held chat has no composer");
    assert.equal(await g.locator("#workbin .chat-link").innerText(), "Carla\nheld");
    assert.equal(await g.locator("#chats .chat-link").count(), 0);
    await type(c, "Are you still there?");
    await waitItem(c, "Are you still there?", { state: "sent" });
    const again = g.locator("#offers li");
    await again.waitFor({ timeout: 15000 });
    assert.match(await again.innerText(), /you had it before/);
    await again.getByRole("button", { name: /^Accept/ }).click();
    await waitFor("the message written while on hold", async () => /Are you still there\?/.test(await logText(g)), { timeout: 10000 });
    await waitFor("the agent back in the chat", async () => (await g.locator(".chat-pane .chat-meta").getAttribute("data-async-status")) === "-1");
    assert.equal(await g.locator("#workbin .chat-link").count(), 0, "accepted again: out of the workbin");

    // --- a second agent, created in the admin console, takes the chat by transfer and ends it ---
    await a.locator("#acct-id").fill("bob");
    await a.locator("#acct-name").fill("Bob Agent");
    await a.locator("#acct-password").fill("bob-password-1");
    await a.locator("#acct-password").press("Enter");
    await a.locator('#accounts tr[data-id="bob"]').waitFor({ timeout: 10000 });
    const bctx = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    const b = await newPage(bctx);
    pages.push(b);
    await b.goto(`${server.httpURL}/agent/`);
    await b.locator("#login-id").fill("bob");
    await b.locator("#login-password").fill("bob-password-1");
    await b.locator("#login-password").press("Enter");
    await waitFor("bob's CometD session", async () => (await b.locator("#conn").textContent()) === "Connected", { timeout: 15000 });
    await b.locator("#state-ready").click();
    await waitFor("bob ready", async () => (await b.locator("#presence").textContent()) === "Ready");

    await g.locator(".chat-pane .transfer-to").fill("bob");
    await g.locator(".chat-pane .transfer-to").press("Enter");
    await waitFor("ann out of the chat", () => g.locator(".chat-pane .composer-input").isDisabled());
    const bobsChat = b.locator("#chats .chat-link");
    await bobsChat.waitFor({ timeout: 10000 });
    await bobsChat.click();
    await waitFor("the history in bob's transcript", async () => /Order 4711[\s\S]*Are you still there\?[\s\S]*Bob Agent joined/.test(await logText(b)), { timeout: 10000 });
    await waitFor("the widget shows bob", async () => (await w(c, ".log").innerText()).includes("Bob Agent joined"));
    // Bob invites ann back (conference): the chat is in ann's list again, both are in it.
    await b.locator(".chat-pane .transfer-to").fill("ann");
    await b.locator('.chat-pane button[data-action="invite"]').click();
    await waitFor("ann back in the chat", async () => (await g.locator("#chats .chat-link .badge").allInnerTexts()).join() === "joined", { timeout: 10000 });
    // Ann joined on the accept, on the accept after the hold, and now on the invite.
    await waitFor("the widget shows ann's third join", async () =>
      ((await w(c, ".log").innerText()).match(/Ann Agent joined/g) || []).length === 3);
    await g.locator("#chats .chat-link").click();
    await waitFor("ann's composer back", async () => !(await g.locator(".chat-pane .composer-input").isDisabled()));
    await b.locator('.chat-pane .actions button[data-action="end"]').click();
    await w(c, ".ended").waitFor({ state: "visible", timeout: 15000 });
    await waitFor("the ended chat in bob's console", async () => /ended/.test(await b.locator(".chat-pane .chat-meta").textContent()));
    assert.equal(await b.locator(".chat-pane .composer-input").isDisabled(), true, "an ended chat has no composer");
    await b.locator(".chat-pane .disposition").fill("resolved: parcel re-sent");
    await b.locator(".chat-pane .disposition").press("Enter");
    await waitFor("the disposition stored", async () => (await b.locator("#status").textContent()) === "done: done.");
    await noViolations(b, "agent after the end");
    // Two cookies: the Bayeux server's browser id (BAYEUX_BROWSER, no authority) and the
    // console session (HttpOnly, SameSite=Strict); nothing in the tab's storage.
    assert.deepEqual((await gctx.cookies()).map((k) => [k.name, k.httpOnly, k.sameSite]).sort(),
      [["BAYEUX_BROWSER", true, "Lax"], ["chatgate_console", true, "Strict"]]);
    assert.equal(await g.evaluate(() => sessionStorage.length + localStorage.length), 0);
    // Log out: back to the login view, the session gone from the browser and the server.
    for (const p of [g, b]) {
      const token = (await p.context().cookies()).find((k) => k.name === "chatgate_console").value;
      await p.locator("#logout").click();
      await p.locator("#login-form").waitFor({ state: "visible" });
      assert.equal((await p.context().cookies()).find((k) => k.name === "chatgate_console"), undefined);
      await waitFor("the session revoked", async () =>
        (await fetch(`${server.httpURL}/agent/v1/me`, { headers: { Authorization: `Bearer ${token}` } })).status === 401);
    }
    await bctx.close();

    for (const ctx of [actx, gctx, cctx]) await ctx.close();
  });
  it("network drop: the agent console reconnects, shows what the customer wrote meanwhile once, and sends again", async () => {
    const made = await fetch(`${server.httpURL}/admin/accounts/dora`, {
      method: "PUT", headers: { Authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ displayName: "Dora", role: "agent", queues: [SVC], password: "dora-password-1" }),
    });
    assert.equal(made.status, 200);
    const proxy = await SeverableProxy.start(server.addr);
    try {
      const gctx = await browser.newContext({ viewport: { width: 1100, height: 720 } });
      const g = await newPage(gctx);
      await g.goto(`http://${proxy.addr}/agent/`);
      await g.locator("#login-id").fill("dora");
      await g.locator("#login-password").fill("dora-password-1");
      await g.locator("#login-password").press("Enter");
      await waitFor("the CometD session", async () => (await g.locator("#conn").textContent()) === "Connected", { timeout: 15000 });
      await g.locator("#state-ready").click();
      await waitFor("ready", async () => (await g.locator("#presence").textContent()) === "Ready");

      const cctx = await browser.newContext();
      const c = await newPage(cctx);
      pages.push(c);
      await c.goto(`${server.httpURL}/`);
      await startChat(c, { name: "Nina" });
      await type(c, "first question");
      await g.locator("#offers li").waitFor({ timeout: 15000 });
      await g.locator("#offers li").getByRole("button", { name: /^Accept/ }).click();
      await waitFor("the transcript", async () => /first question/.test(await logText(g)), { timeout: 10000 });

      proxy.refuse();
      proxy.sever();
      await waitFor("the console noticing the drop", async () => (await g.locator("#conn").textContent()) === "Reconnecting…", { timeout: 20000 });
      await type(c, "written while the agent was cut off");
      await waitItem(c, "written while the agent was cut off", { state: "sent" });
      await g.locator(".chat-pane .composer-input").fill("typed while offline");
      await g.locator(".chat-pane .composer-input").press("Enter");
      await waitFor("the failed send reported", async () => /fetch|network/i.test(await g.locator("#status").textContent()));
      assert.equal(await g.locator(".chat-pane .composer-input").inputValue(), "typed while offline", "a message not sent stays in the composer");

      proxy.forward();
      await waitFor("the console back online", async () => (await g.locator("#conn").textContent()) === "Connected", { timeout: 20000 });
      await waitFor("the message written meanwhile", async () => /written while the agent was cut off/.test(await logText(g)), { timeout: 15000 });
      await g.locator(".chat-pane .composer-input").press("Enter");
      await waitItem(c, "typed while offline");
      const texts = await g.locator(".chat-pane .log .msg .text").allInnerTexts();
      assert.deepEqual(texts, ["first question", "written while the agent was cut off", "typed while offline"], "each message once");
      assert.deepEqual(g.errors.filter((e) => !/ERR_CONNECTION|Failed to load resource|WebSocket/.test(e)), [],
        "the console logged errors other than the network faults the test made");
      await gctx.close();
      await cctx.close();
    } finally {
      await proxy.close();
    }
  });
});
