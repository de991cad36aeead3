// The widget when the network misbehaves, with real network faults between Chromium and the
// real binary: the connection cut and refused (offline banner, a message typed meanwhile
// delivered once on resume), and a proxy that refuses websocket upgrades (long-polling).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer } from "../../clients/lib/server.js";
import { SeverableProxy } from "../../clients/lib/proxy.js";
import { waitFor } from "../../clients/lib/wait.js";
import { launch, newPage, w, screenshot } from "../lib/browser.js";
import { NoWebSocketProxy } from "../lib/http-proxy.js";
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
