// The routing queue position a waiting customer reads from its refresh answers
// (docs/gms-api.md, "Queue position"), over CometD with the stock CometD JavaScript client
// against the real chatgate binary (its built-in router). Owner: web/gmschat.
//
// Part of `npm test` (from test/clients: node --test gms/ runs it alone).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer } from "../lib/server.js";
import { newClient } from "../lib/cometd-client.js";
import { Inbox } from "../lib/wait.js";

const SVC = "customer-support";
const CHANNEL = `/service/chatV2/${SVC}`;

describe("queue position in the CometD refresh answer", () => {
  let server;
  const clients = [];
  before(async () => {
    server = await new ChatgateServer({ name: "chatgate-gms-position" }).start();
  });
  after(async () => {
    for (const c of clients) await c.disconnect().catch(() => {});
    await server.close();
  });

  it("two waiting chats read positions 1 and 2; a wrong key reads none", async () => {
    // One CometD session per chat: a session is attached to the chat it created.
    const customer = async (nickname) => {
      const c = newClient(server.cometdURL, { transport: "long-polling" });
      clients.push(c);
      await c.handshake();
      await c.connected();
      c.inbox = new Inbox(`chatV2 position ${nickname}`);
      await c.subscribe(CHANNEL, (m) => c.inbox.push(m.data));
      await c.publish(CHANNEL, { operation: "requestChat", nickname, userData: { GCTI_Chat_AsyncMode: "true" } });
      c.chat = await c.inbox.next((d) => d.chatId && d.secureKey, 10000, `requestChat ${nickname}`);
      return c;
    };
    const first = await customer("first");
    const second = await customer("second");

    // The router queues a chat when its listener sees the creation: refresh until both are in.
    const refreshUntil = async (c, pred, what) => {
      const deadline = Date.now() + 10000;
      for (;;) {
        await c.publish(CHANNEL, { operation: "refresh", secureKey: c.chat.secureKey, transcriptPosition: "0" });
        const r = await c.inbox.next((d) => d.chatId === c.chat.chatId && d.statusCode === 0 && !d.messages?.length, 10000, `refresh ${what}`);
        if (pred(r.userData ?? {})) return r.userData;
        if (Date.now() > deadline) assert.fail(`${what}: last userData ${JSON.stringify(r.userData)}`);
      }
    };
    const p1 = await refreshUntil(first, (u) => u["routing-waiting"] === "2", "first chat");
    assert.equal(p1["routing-queue"], SVC);
    assert.equal(p1["routing-position"], "1");
    assert.equal(p1["routing-offered"], "false");
    assert.equal(p1["routing-estimated-wait"], undefined);
    const p2 = await refreshUntil(second, (u) => u["routing-waiting"] === "2", "second chat");
    assert.equal(p2["routing-position"], "2");

    await first.publish(CHANNEL, { operation: "refresh", secureKey: "not-the-key", transcriptPosition: "0" });
    const bad = await first.inbox.next((d) => d.statusCode !== 0, 10000, "the refused refresh");
    assert.equal(bad.userData?.["routing-position"], undefined);
  });
});
