// The admin console's "Services" section (web/console/src/admin-services.js, the live chat
// options API /admin/options) in headless Chromium against the real binary: a customer's async
// chat is idle-alerted (GCTI_Chat_AsyncCheckAt set), the admin logs in, opens the chat's
// service, sees each option's effective value and source, raises async-idle-alert; the
// customer writes again (CheckAt now follows the last activity); the admin raises
// async-idle-alert once more with the keyboard and the running chat's CheckAt, read through
// the workflow API, moves by exactly the difference. A bad value shows the server's message
// next to the field (aria-invalid, aria-describedby) and changes nothing. axe-core finds zero
// violations at desktop and at 390 px; the screenshot goes to docs/consoles/admin-services.png.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ChatgateServer } from "../../clients/lib/server.js";
import { waitFor } from "../../clients/lib/wait.js";
import { launch, newPage, consoleShotDir } from "../lib/browser.js";
import { axe } from "../lib/axe.js";
import { SVC, rest } from "../lib/chat.js";

const ADMIN = "options-test-admin-token-0123456789";
const CLOSE = 3600; // async-idle-close: nothing closes during the test

async function noViolations(p, what) {
  const r = await axe(p, what);
  assert.deepEqual(r.violations, []);
  assert.ok(r.checked > 10, `${what}: axe checked only ${r.checked} rules`);
}

describe("admin console: live chat options", () => {
  let server, browser;
  const pages = [];
  const info = async (chatId) => {
    const r = await fetch(`${server.httpURL}/workflow/v1/chats/${chatId}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
    assert.equal(r.status, 200);
    return r.json();
  };
  const checkAt = async (chatId) => Number((await info(chatId)).properties.GCTI_Chat_AsyncCheckAt || 0);
  const overrides = async () => {
    const r = await fetch(`${server.httpURL}/admin/options/services/${SVC}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
    return (await r.json()).overrides;
  };

  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "chatgate-options-"));
    const cfg = path.join(dir, "chatgate.json");
    writeFileSync(cfg, JSON.stringify({
      chat: { settings: { "async-idle-close": CLOSE, "async-check-at-margin": 0, "flex-disconnect-timeout": 3600 } },
      [`chat.${SVC}`]: { settings: { "async-idle-alert": 2 } },
    }));
    server = await new ChatgateServer({ name: "chatgate-options", args: ["--admin-token", ADMIN, "--config", cfg] }).start();
    browser = await launch();
  });
  after(async () => {
    for (const p of pages) assert.deepEqual(p.errors, [], "a page logged errors");
    await browser?.close();
    await server?.close();
  });

  it("an admin changes async-idle-alert for a service and a running chat's CheckAt moves; a bad value changes nothing", async () => {
    // A customer's async chat (REST), alerted after 2 s: status 3, CheckAt = alert + close.
    const chat = await rest(server, SVC, "", { nickname: "Ann", "userData[GCTI_Chat_AsyncMode]": "true" });
    assert.equal(chat.statusCode, 0, JSON.stringify(chat));
    const alerted = await waitFor("the async idle alert", async () => {
      const s = await info(chat.chatId);
      return s.properties.GCTI_Chat_AsyncStatus === "3" && s;
    });
    assert.ok(Number(alerted.properties.GCTI_Chat_AsyncCheckAt) > 0, JSON.stringify(alerted));

    const ctx = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const a = await newPage(ctx);
    pages.push(a);
    await a.goto(`${server.httpURL}/admin/`);
    await a.locator("#admin-token").fill(ADMIN);
    await a.keyboard.press("Enter");
    await a.locator("#services").waitFor({ state: "visible" });
    await waitFor("the service in the list", async () => (await a.locator("#svc-pick option").allTextContents()).includes(SVC));
    await a.locator("#svc-pick").selectOption(SVC);
    const alert = a.locator("#opt-settings-async-idle-alert");
    await waitFor("the service's options", async () => (await a.locator("#svc-title").textContent()) === `Service ${SVC}`);
    // Effective values with their sources.
    assert.equal(await alert.inputValue(), "2");
    const src = (id) => a.locator(`#opt-${id}-src`).textContent();
    assert.equal(await src("settings-async-idle-alert"), `config file (chat.${SVC})`);
    assert.equal(await src("settings-async-idle-close"), "config file (chat)");
    assert.equal(await src("settings-flex-push-timeout"), "default");
    assert.equal(await a.locator("#opt-routing-queue").inputValue(), SVC);
    assert.equal(await alert.getAttribute("aria-describedby"), "opt-settings-async-idle-alert-src opt-settings-async-idle-alert-err");
    await noViolations(a, "admin services");

    // A bad value: the server's message next to the field, nothing stored, CheckAt unchanged.
    const before = await checkAt(chat.chatId);
    await alert.fill("0");
    await alert.press("Enter");
    await waitFor("the refusal next to the field", async () => (await alert.getAttribute("aria-invalid")) === "true");
    assert.equal(await a.locator("#opt-settings-async-idle-alert-err").textContent(), "want an integer 1–1728000 (seconds)");
    assert.match(await a.locator("#svc-status").textContent(), /^Not saved: async-idle-alert: want an integer/);
    assert.equal(await a.evaluate(() => document.activeElement.id), "opt-settings-async-idle-alert", "focus on the refused field");
    assert.deepEqual(await overrides(), {});
    assert.equal(await checkAt(chat.chatId), before);
    assert.deepEqual(a.errors.splice(0), ["console: Failed to load resource: the server responded with a status of 400 (Bad Request)"]);
    await noViolations(a, "admin services with a refused value");

    // Raised while the chat is alerted: its CheckAt (alert + close) does not depend on it.
    await alert.fill("30");
    await alert.press("Enter");
    await waitFor("the override saved", async () => (await src("settings-async-idle-alert")) === `override (chat.${SVC})`);
    assert.equal(await alert.getAttribute("aria-invalid"), null);
    assert.deepEqual(await overrides(), { settings: { "async-idle-alert": "30" } });
    assert.equal(await checkAt(chat.chatId), before);

    // The customer writes: CheckAt follows the activity (+ 30 s alert + close).
    const sent = await rest(server, SVC, `/${chat.chatId}/send`, { secureKey: chat.secureKey, message: "still here", transcriptPosition: "0" });
    assert.equal(sent.statusCode, 0, JSON.stringify(sent));
    const active = await waitFor("CheckAt after the activity", async () => {
      const c = await checkAt(chat.chatId);
      return c !== before && c;
    });
    assert.ok(active - Math.floor(Date.now() / 1000) > CLOSE, `CheckAt ${active} lies after activity + alert + close`);

    // Raised again from the keyboard (Tab to the field, type, Enter): the running chat's
    // CheckAt moves by exactly the difference, at once, without activity.
    await a.locator("#svc-pick").focus();
    while (!(await a.evaluate(() => document.activeElement.id === "opt-settings-async-idle-alert"))) await a.keyboard.press("Tab");
    await a.keyboard.press("Control+a");
    await a.keyboard.type("600");
    await a.keyboard.press("Enter");
    await waitFor("the status line", async () => /^Saved 1 option for customer-support/.test(await a.locator("#svc-status").textContent()));
    await waitFor("the running chat's CheckAt moved", async () => (await checkAt(chat.chatId)) === active + 570);
    const s = await info(chat.chatId);
    assert.equal(s.ended, false);
    assert.equal(s.properties.GCTI_Chat_AsyncStatus, "2", "the customer wrote: waiting for an agent");
    // The section itself (the page above it belongs to other sections).
    await a.locator("#services").screenshot({ path: path.join(consoleShotDir, "admin-services.png") });

    // The phone: one column, no sideways scrolling, no violations.
    await a.setViewportSize({ width: 390, height: 844 });
    await waitFor("no horizontal overflow", () => a.evaluate(() => document.documentElement.scrollWidth <= 390));
    await noViolations(a, "admin services at 390 px");

    // Reset drops the override: back to the file's 2 s.
    await a.setViewportSize({ width: 1100, height: 900 });
    await a.getByRole("button", { name: "Reset async-idle-alert to the inherited value" }).click();
    await waitFor("back to the file", async () => (await src("settings-async-idle-alert")) === `config file (chat.${SVC})`);
    assert.equal(await alert.inputValue(), "2");
    assert.deepEqual(await overrides(), {});
  });
});
