// The widget as a site embeds it: a shop page on another origin than chatgate, with the one
// tag pointing at chatgate. The widget finds its server from the tag, talks CometD across
// origins (websocket, or long-polling with data-websocket="false") when the shop is in
// allowed-origins, and gets nowhere from a site that is not.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { readFileSync } from "node:fs";
import { ChatgateServer } from "../../clients/lib/server.js";
import { launch, newPage, w } from "../lib/browser.js";
import { otherSide, startChat, type, waitItem, session } from "../lib/chat.js";

// site serves a shop page that embeds the widget from chatgate() (read per request: the
// sites listen before chatgate starts, since its allowed-origins names them).
async function site(chatgate, attrs = "") {
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>` +
      `<body><main><h1>Shop</h1><p>Products.</p></main>` +
      `<script src="${chatgate()}/widget/chatgate.js" data-service="customer-support" ${attrs}></script></body></html>`);
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  srv.url = `http://127.0.0.1:${srv.address().port}`;
  return srv;
}

describe("widget embedded on another site", () => {
  let server, browser, other, shop, shopLP, stranger;
  const pages = [];
  before(async () => {
    const url = () => server.httpURL;
    shop = await site(url);
    shopLP = await site(url, `data-websocket="false"`);
    stranger = await site(url);
    server = await new ChatgateServer({ name: "chatgate-widget-xo", args: ["--allowed-origins", `${shop.url},${shopLP.url}`] }).start();
    other = otherSide(server);
    browser = await launch();
  });
  after(async () => {
    for (const p of pages) assert.deepEqual(p.errors.filter((e) => !/Failed to load resource|403|CORS|WebSocket/.test(e)), [], "the page logged errors");
    await browser?.close();
    await server?.close();
    for (const s of [shop, shopLP, stranger]) s?.close();
  });

  for (const [name, get, want] of [["websocket", () => shop, "websocket"], ["long-polling", () => shopLP, "long-polling"]]) {
    it(`an allowed site chats over ${name} with the server named by the tag, and resumes after a reload`, async () => {
      const ctx = await browser.newContext();
      const p = await newPage(ctx);
      pages.push(p);
      await p.goto(`${get().url}/`);
      const s = await startChat(p, { name: `Xo ${name}` });
      assert.equal(await p.evaluate(() => window.ChatGate.widget.conn.transport), want);
      await type(p, `hello over ${name}`);
      await waitItem(p, `hello over ${name}`, { state: "sent" });
      await other.say(s, `answer over ${name}`);
      await waitItem(p, `answer over ${name}`);
      await p.reload();
      await w(p, ".launcher").click();
      await other.say(s, `after the reload over ${name}`);
      await waitItem(p, `after the reload over ${name}`);
      assert.equal((await session(p)).chatId, s.chatId);
      await ctx.close();
    });
  }

  it("an allowed site uploads and downloads a file through chat-ntf across origins", async () => {
    const ctx = await browser.newContext({ acceptDownloads: true });
    const p = await newPage(ctx);
    pages.push(p);
    await p.goto(`${shop.url}/`);
    const s = await startChat(p, { name: "Xo files" });
    const [chooser] = await Promise.all([p.waitForEvent("filechooser"), w(p, "button[aria-label='Attach a file']").click()]);
    await chooser.setFiles({ name: "receipt.txt", mimeType: "text/plain", buffer: Buffer.from("receipt 77\n") });
    const file = await waitItem(p, "You shared a file: Download receipt.txt (11 B)");
    const [dl] = await Promise.all([p.waitForEvent("download"), w(p, `.item[data-index="${file.index}"] button.linkbtn`).click()]);
    assert.equal(readFileSync(await dl.path(), "utf8"), "receipt 77\n");
    const t = await other.transcript(s);
    assert.deepEqual(t.messages.filter((e) => e.type === "FileUploaded").map((e) => e.userData["file-name"]), ["receipt.txt"]);
    await ctx.close();
  });

  it("a site not in allowed-origins cannot start a chat", async () => {
    const ctx = await browser.newContext();
    const p = await newPage(ctx);
    pages.push(p);
    await p.goto(`${stranger.url}/`);
    // The browser cannot tell an origin refusal from a network failure (CORS hides the
    // 403), so the widget gives up when its start timeout passes; shortened here.
    await p.evaluate(() => window.ChatGate.init({ service: "customer-support", startTimeout: 4000 }));
    await w(p, ".launcher").click();
    await w(p, "input[name=nickname]").fill("Mallory");
    await w(p, "form.prechat button[type=submit]").click();
    await w(p, "form.prechat .ferr[role=alert]").filter({ hasText: /could not be started/ }).waitFor({ timeout: 15000 });
    assert.equal(await session(p), null);
    await ctx.close();
  });
});
