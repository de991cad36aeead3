// The widget when the network misbehaves, with real network faults between Chromium and the
// real binary: the connection cut and refused (offline banner, a message typed meanwhile
// delivered once on resume), and a proxy that refuses websocket upgrades (long-polling).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { rmSync, mkdirSync } from "node:fs";
import { ChatgateServer } from "../../clients/lib/server.js";
import { SeverableProxy } from "../../clients/lib/proxy.js";
import { waitFor } from "../../clients/lib/wait.js";
import { launch, newPage, w, screenshot } from "../lib/browser.js";
import { NoWebSocketProxy } from "../lib/http-proxy.js";
import { MuteProxy } from "../lib/mute-proxy.js";
import { session, otherSide, startChat, type, items, waitItem, assertNoDuplicates } from "../lib/chat.js";

const transport = (p) => p.evaluate(() => window.ChatGate.widget.conn?.transport);

describe("widget on a bad network", () => {
  let server, browser, other;
  const pages = [];

  before(async () => {
    server = await new ChatgateServer({ name: "chatgate-widget-net" }).start();
    other = otherSide(server);
    browser = await launch();
  });
  after(async () => {
    for (const p of pages) assert.deepEqual(p.errors.filter((e) => !/ERR_CONNECTION|Failed to load resource|WebSocket/.test(e)), [],
      "the page logged errors other than the network faults the test made");
    await browser?.close();
    await server?.close();
  });

  it("offline: banner shown, a message typed meanwhile is delivered once when the network is back", async () => {
    const proxy = await SeverableProxy.start(server.addr);
    try {
      const ctx = await browser.newContext({ viewport: { width: 1000, height: 720 } });
      const p = await newPage(ctx);
      pages.push(p);
      await p.goto(`http://${proxy.addr}/`);
      const s = await startChat(p, { name: "Otto" });
      await type(p, "before the cut");
      await waitItem(p, "before the cut", { state: "sent" });
      assert.equal(await transport(p), "websocket");

      proxy.refuse();
      proxy.sever();
      await w(p, ".banner").waitFor({ state: "visible", timeout: 20000 });
      assert.match(await w(p, ".banner").textContent(), /offline/i);
      assert.equal(await p.locator("chatgate-widget").getAttribute("data-offline"), "");
      await type(p, "typed while offline");
      await waitItem(p, "typed while offline", { state: "sending" });
      await other.say(s, "answered while the customer was cut off");
      await screenshot(p, "offline");

      proxy.forward();
      await w(p, ".banner").waitFor({ state: "hidden", timeout: 20000 });
      await waitItem(p, "typed while offline", { state: "sent", timeout: 20000 });
      await waitItem(p, "answered while the customer was cut off");
      const t = await other.transcript(s);
      assert.deepEqual(t.messages.filter((e) => e.type === "Message").map((e) => e.text),
        ["before the cut", "answered while the customer was cut off", "typed while offline"]);
      assertNoDuplicates(await items(p));
      await ctx.close();
    } finally {
      await proxy.close();
    }
  });

  // serverTexts is the customer's messages as the server holds them.
  const serverTexts = async (s) => (await other.transcript(s)).messages.filter((e) => e.type === "Message").map((e) => e.text);

  it("delivered but the answer lost: shown as not sent, then settled as sent, never published twice", async () => {
    const proxy = await MuteProxy.start(server.addr);
    try {
      const ctx = await browser.newContext();
      const p = await newPage(ctx);
      pages.push(p);
      await p.goto(`${proxy.url}/`);
      await p.evaluate(() => window.ChatGate.init({ service: "customer-support", sendTimeout: 1500, refreshTimeout: 1500 }));
      const s = await startChat(p, { name: "Mia" });
      proxy.mute();
      await type(p, "did this arrive?");
      await waitFor("the server to hold the message", async () => (await serverTexts(s)).length === 1);
      // No event comes back and the reconciliation's answer is lost too: not sent.
      await waitItem(p, "did this arrive?", { state: "failed", timeout: 20000 });
      proxy.unmute();
      proxy.sever();
      // Whether the replay after reconnecting or the customer's retry settles it, the
      // message ends up sent and the server still holds it once.
      await waitFor("the message to be settled", async () => {
        const it = (await items(p)).find((i) => i.text === "did this arrive?");
        if (it.state === "failed") await w(p, ".item.failed button.linkbtn").click().catch(() => {});
        return it.state === "sent";
      }, { timeout: 20000, every: 200 });
      assert.deepEqual(await serverTexts(s), ["did this arrive?"]);
      assert.equal((await items(p)).filter((i) => i.text === "did this arrive?").length, 1);
      await ctx.close();
    } finally {
      await proxy.close();
    }
  });

  it("not delivered: shown as not sent; Retry publishes it once", async () => {
    const proxy = await SeverableProxy.start(server.addr);
    try {
      const ctx = await browser.newContext();
      const p = await newPage(ctx);
      pages.push(p);
      await p.goto(`http://${proxy.addr}/`);
      await p.evaluate(() => window.ChatGate.init({ service: "customer-support", sendTimeout: 1500, refreshTimeout: 1500 }));
      const s = await startChat(p, { name: "Nia" });
      proxy.blackhole(); // nothing passes, connections stay open
      await type(p, "lost on the way");
      await waitItem(p, "lost on the way", { state: "failed", timeout: 20000 });
      assert.deepEqual(await serverTexts(s), []);
      proxy.forward();
      proxy.sever();
      await w(p, ".banner").waitFor({ state: "hidden", timeout: 20000 });
      assert.equal((await items(p)).find((i) => i.text === "lost on the way").state, "failed",
        "a message the server never got stays failed until the customer retries");
      await w(p, ".item.failed button.linkbtn").click();
      await waitItem(p, "lost on the way", { state: "sent" });
      assert.deepEqual(await serverTexts(s), ["lost on the way"]);
      assert.equal((await items(p)).filter((i) => i.text === "lost on the way").length, 1);
      await ctx.close();
    } finally {
      await proxy.close();
    }
  });

  it("pushes dropped by the server's queue limit: the gap is read back, every message shown once, in order", async () => {
    // A server whose per-session queue holds one message, behind a proxy that forces
    // long-polling: a burst of events between two polls overflows it and drops pushes.
    const small = await new ChatgateServer({ name: "chatgate-widget-queue", args: ["--bayeux-max-queue", "1"] }).start();
    const proxy = await NoWebSocketProxy.start(small.addr);
    try {
      const side = otherSide(small);
      const ctx = await browser.newContext();
      const p = await newPage(ctx);
      pages.push(p);
      await p.goto(`${proxy.url}/`);
      const s = await startChat(p, { name: "Quinn" });
      assert.equal(await transport(p), "long-polling");
      const burst = Array.from({ length: 15 }, (_, i) => `burst ${i + 1}`);
      await Promise.all(burst.map((t) => side.say(s, t)));
      const order = (await side.transcript(s)).messages.filter((e) => e.type === "Message").map((e) => e.text);
      await waitFor("every message of the burst", async () => {
        const shown = (await items(p)).filter((i) => i.kind !== "system").map((i) => i.text);
        return shown.length === burst.length && shown;
      }, { timeout: 20000, every: 100 });
      const list = await items(p);
      assertNoDuplicates(list);
      assert.deepEqual(list.filter((i) => i.kind !== "system").map((i) => i.text), order, "shown in transcript order");
      const drops = [...(await small.metrics())].filter(([k]) => k.startsWith("chatgate_bayeux_queue_drops_total")).reduce((n, [, v]) => n + v, 0);
      assert.ok(drops > 0, "the burst did not overflow the queue: the gap path was not exercised");
      await ctx.close();
    } finally {
      await proxy.close();
      await small.close();
    }
  });

  it("the server is killed and restarted: the widget re-attaches and the chat goes on", async () => {
    const own = await new ChatgateServer({ name: "chatgate-widget-restart" }).start();
    try {
      const side = otherSide(own);
      const ctx = await browser.newContext();
      const p = await newPage(ctx);
      pages.push(p);
      await p.goto(`${own.httpURL}/`);
      const s = await startChat(p, { name: "Rita" });
      await type(p, "before the crash");
      await waitItem(p, "before the crash", { state: "sent" });
      await own.restart("SIGKILL");
      // The old Bayeux session is gone with the process: the widget handshakes again and
      // re-attaches with requestNotifications from the last index it saw.
      await side.say(s, "after the restart");
      await waitItem(p, "after the restart", { timeout: 20000 });
      await type(p, "still here");
      await waitItem(p, "still here", { state: "sent" });
      assert.deepEqual((await side.transcript(s)).messages.filter((e) => e.type === "Message").map((e) => e.text),
        ["before the crash", "after the restart", "still here"]);
      assertNoDuplicates(await items(p));
      await ctx.close();
    } finally {
      await own.close();
    }
  });

  it("the server lost its data: the stored chat is shown as ended, a new chat can start", async () => {
    const own = await new ChatgateServer({ name: "chatgate-widget-wiped" }).start();
    try {
      const ctx = await browser.newContext();
      const p = await newPage(ctx);
      pages.push(p);
      await p.goto(`${own.httpURL}/`);
      await startChat(p, { name: "Sam" });
      await type(p, "remember me");
      await waitItem(p, "remember me", { state: "sent" });
      await own.stop("SIGKILL");
      rmSync(own.dataDir, { recursive: true, force: true });
      mkdirSync(own.dataDir);
      await own.start(own.addr);
      // The widget re-attaches with a chat the server never heard of: 403 code 201.
      await w(p, ".ended").waitFor({ state: "visible", timeout: 20000 });
      await waitItem(p, "remember me");
      await w(p, ".ended button.primary").click();
      const s2 = await startChat(p, { name: "Sam again" });
      await type(p, "a new chat");
      await waitItem(p, "a new chat", { state: "sent" });
      assert.deepEqual((await otherSide(own).transcript(s2)).messages.filter((e) => e.type === "Message").map((e) => e.text), ["a new chat"]);
      await ctx.close();
    } finally {
      await own.close();
    }
  });

  it("websocket refused by a proxy: the widget falls back to long-polling and chats", async () => {
    const proxy = await NoWebSocketProxy.start(server.addr);
    try {
      const ctx = await browser.newContext();
      const p = await newPage(ctx);
      pages.push(p);
      await p.goto(`${proxy.url}/`);
      const s = await startChat(p, { name: "Lena" });
      assert.ok(proxy.upgradesRefused >= 1, "the widget tried the websocket first");
      assert.equal(await transport(p), "long-polling");
      await type(p, "over long-polling");
      await waitItem(p, "over long-polling", { state: "sent" });
      await other.say(s, "pushed over long-polling");
      await waitItem(p, "pushed over long-polling");

      // A reload resumes over long-polling too, from the stored position.
      await p.reload();
      await w(p, ".launcher").click();
      await other.say(s, "after the reload");
      await waitItem(p, "after the reload");
      assert.equal(await transport(p), "long-polling");
      const stored = await waitFor("the stored position", async () => {
        const st = await session(p);
        return st && st.lastIndex === (await other.transcript(s)).nextPosition - 1 && st;
      });
      assert.equal(stored.chatId, s.chatId);
      assertNoDuplicates(await items(p));
      await ctx.close();
    } finally {
      await proxy.close();
    }
  });
});
