// The widget with a real agent on the other side, through chatgate's agent API (/agent/v1,
// web/agentapi) and its routing: the chat is offered to the agent, who accepts, types
// (the widget shows it typing), answers with a link, writes an internal note the customer
// must never see (a gap in the customer's indexes), and ends the chat. A bot with a hostile
// display name joins and answers in bot style; its name and text stay text.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer } from "../../clients/lib/server.js";
import { waitFor } from "../../clients/lib/wait.js";
import { launch, newPage, w, screenshot } from "../lib/browser.js";
import { agentAPI } from "../lib/agent.js";
import { startChat, type, items, waitItem, assertNoDuplicates } from "../lib/chat.js";

const ADMIN = "widget-agent-test-admin-token";

describe("widget with an agent", () => {
  let server, browser;
  const pages = [];

  let party;

  before(async () => {
    server = await new ChatgateServer({ name: "chatgate-widget-agent", args: ["--admin-token", ADMIN] }).start();
    browser = await launch();
    ({ party } = agentAPI(server, ADMIN));
  });
  after(async () => {
    for (const p of pages) assert.deepEqual(p.errors, [], "the page logged errors");
    await browser?.close();
    await server?.close();
  });

  it("an agent takes the offer, types and answers, a bot answers: styles, typing indicator, INT gap, inert text", async () => {
    const ann = await party("ann", { displayName: "Ann", role: "agent" });
    const bot = await party("helper", { displayName: "Helper <img src=x onerror=alert(1)> Bot", role: "bot" });
    const ctx = await browser.newContext({ viewport: { width: 1000, height: 720 } });
    const p = await newPage(ctx);
    pages.push(p);
    let dialogs = 0;
    p.on("dialog", (d) => { dialogs++; d.dismiss(); });
    await p.goto(`${server.httpURL}/`);
    const s = await startChat(p, { name: "Carla" });
    await type(p, "Hello, I need help with my order");
    await waitItem(p, "Hello, I need help with my order", { state: "sent" });

    await ann.ready();
    await ann.accept(s.chatId);
    await waitFor("the agent's join line", async () => (await items(p)).some((i) => i.kind === "system" && /^Ann joined/.test(i.text)));
    await ann.act(s.chatId, "typing-start");
    await waitFor("the typing indicator", async () => /is typing/.test(await w(p, ".typing").textContent()));
    assert.equal(await w(p, ".typing").textContent(), "Ann is typing…");
    await ann.act(s.chatId, "send", { text: "Hi Carla, it ships today. Track it here: https://shop.example.com/t/1" });
    const agentMsg = await waitItem(p, "Hi Carla, it ships today. Track it here: https://shop.example.com/t/1");
    assert.equal(agentMsg.kind, "agent");
    assert.equal(await w(p, ".typing").textContent(), "", "a message from the typist ends its typing indicator");
    assert.equal(await w(p, `.item[data-index="${agentMsg.index}"] .who`).textContent(), "Ann");

    // An internal message (agents only) leaves a gap in the customer's indexes: the next
    // visible message must still show, and the internal one never.
    await ann.act(s.chatId, "send", { text: "internal: VIP customer", visibility: "INT" });
    await ann.act(s.chatId, "send", { text: "Anything else I can do for you?" });
    await waitItem(p, "Anything else I can do for you?");
    await type(p, "No, thanks!");
    await waitItem(p, "No, thanks!", { state: "sent" });
    await ann.act(s.chatId, "typing-start");
    await waitFor("the typing indicator again", async () => /is typing/.test(await w(p, ".typing").textContent()));
    await screenshot(p, "chatting");
    await ann.act(s.chatId, "typing-stop");
    await waitFor("the typing indicator to clear", async () => (await w(p, ".typing").textContent()) === "");

    // A bot (an External participant) joins the chat and answers: bot style.
    await bot.act(s.chatId, "join");
    await bot.act(s.chatId, "send", { text: "I am a bot. javascript:alert(2) <b>bold?</b>" });
    const botMsg = await waitItem(p, "I am a bot. javascript:alert(2) <b>bold?</b>");
    assert.equal(botMsg.kind, "bot");
    assert.equal(await w(p, `.item[data-index="${botMsg.index}"] .who`).textContent(), "Helper <img src=x onerror=alert(1)> Bot");
    assert.match((await items(p)).find((i) => /^Helper .* joined/.test(i.text)).text, /<img src=x onerror=alert\(1\)>/);


    const found = await p.evaluate(() => {
      const log = document.querySelector("chatgate-widget").shadowRoot.querySelector(".log");
      const all = [...log.querySelectorAll("*")];
      return {
        tags: [...new Set(all.map((e) => e.localName))],
        handlers: all.flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => a.name)),
        hrefs: [...log.querySelectorAll("a")].map((a) => a.getAttribute("href")),
      };
    });
    assert.deepEqual(found.handlers, []);
    for (const t of found.tags) assert.ok(["a", "div", "time"].includes(t), `unexpected <${t}>`);
    assert.deepEqual(found.hrefs, ["https://shop.example.com/t/1"]);
    assert.ok(!found.tags.includes("img") && !found.tags.includes("b"));
    assert.equal(dialogs, 0);
    const shown = await items(p);
    assertNoDuplicates(shown);
    assert.ok(!shown.some((i) => /internal/.test(i.text)), "an INT message reached the customer");

    // The agent ends the chat: the widget shows the end.
    await ann.act(s.chatId, "end");
    await w(p, ".ended").waitFor({ state: "visible", timeout: 15000 });
    await ctx.close();
  });
});
