// Restart during an offer (issue 9, "restart during an offer"), with the stock CometD client
// as the agent desktop against the real binary: a chat is offered to an agent, chatgate is
// SIGKILLed before the accept and started again on the same data; the desktop re-handshakes
// by itself (the CometD client's reconnection, with its agentToken still in the handshake
// ext) and resubscribes in its /meta/handshake listener, as CometD applications do; it sets
// itself ready again (presence lives in the node's memory), the chat is offered again and
// accepted. GCTI_Chat_AsyncStatus is asserted at each step: 1 at creation, 1 while offered,
// 1 after the restart, 1 in the second offer, -1 after the accept.
//
// Part of `npm test` (from test/clients: node --test agent/ runs it alone).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer } from "../lib/server.js";
import { newClient } from "../lib/cometd-client.js";
import { Inbox, waitFor } from "../lib/wait.js";
import { jsonRequest } from "../lib/http.js";

const SVC = "support";
const CHANNEL = `/service/chatV2/${SVC}`;
const ADMIN = "agent-restart-admin-token-0123456789";

describe("agent desktop over CometD across a restart", () => {
  let server;
  const clients = [];

  const http = (method, path, token, body) => jsonRequest(server.httpURL, method, path, token, body);
  const asyncStatus = async (chatId) => {
    const r = await http("GET", `/workflow/v1/chats/${chatId}`, ADMIN);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.properties.GCTI_Chat_AsyncStatus;
  };

  // desktop subscribes to its channels in a /meta/handshake listener, so a re-handshake
  // (the server forgot the session) subscribes again. handshakes counts successful ones.
  const desktop = async (id, token) => {
    const c = newClient(server.cometdURL, { transport: "websocket", name: `desk-${id}` });
    clients.push(c);
    c.inbox = new Inbox(`desktop ${id}`);
    c.offers = new Inbox(`offers ${id}`);
    c.handshakes = [];
    c.subscribed = new Inbox(`subscriptions ${id}`);
    c.cometd.addListener("/meta/handshake", (m) => {
      if (!m.successful) return;
      c.handshakes.push(m.clientId);
      c.cometd.batch(() => {
        for (const [ch, box] of [[`/agent/${id}/chat`, c.inbox], [`/agent/${id}/offers`, c.offers]]) {
          c.cometd.subscribe(ch, (msg) => box.push(msg.data), (r) => c.subscribed.push({ ...r, clientId: m.clientId }));
        }
      });
    });
    await c.handshake({ ext: { agentToken: token } });
    await c.subscribed.take(2, (r) => r.successful, 10000, "the desktop's subscriptions");
    c.call = async (data) => (await c.remoteCall("agent", data)).data;
    return c;
  };

  before(async () => {
    server = await new ChatgateServer({ name: "chatgate-agent-restart", args: ["--admin-token", ADMIN] }).start();
    const r = await http("PUT", "/admin/accounts/ann", ADMIN, { displayName: "Ann", role: "agent", queues: [SVC], capacity: 2, password: "ann-password" });
    assert.equal(r.status, 200, JSON.stringify(r.json));
  });
  after(async () => {
    for (const c of clients) await c.disconnect().catch(() => {});
    await server.close();
  });

  it("an offer pending at a SIGKILL is offered again after the restart and the reconnected desktop accepts it", async () => {
    const login = await http("POST", "/agent/v1/login", null, { id: "ann", password: "ann-password" });
    assert.equal(login.status, 200);
    const token = login.json.token;
    const ann = await desktop("ann", token);

    // The customer starts an async chat over CometD and closes its client.
    const cust = newClient(server.cometdURL, { transport: "long-polling", name: "customer" });
    clients.push(cust);
    await cust.handshake();
    await cust.connected();
    cust.inbox = new Inbox("customer");
    await cust.subscribe(CHANNEL, (m) => cust.inbox.push(m.data));
    await cust.publish(CHANNEL, { operation: "requestChat", nickname: "Dora", userData: { GCTI_Chat_AsyncMode: "true" } });
    const { chatId, secureKey } = await cust.inbox.next((d) => d.chatId, 10000, "the requestChat answer");
    await cust.disconnect();
    assert.equal(await asyncStatus(chatId), "1", "a new async chat");

    // Ready: offered, status still 1 (an offer is not an accept).
    assert.equal((await ann.call({ action: "state", state: "ready" })).presence.state, "ready");
    const first = await ann.offers.next((o) => o.type === "offer" && o.chatId === chatId, 10000, "the first offer");
    assert.equal(first.chat.state, "offered");
    assert.equal(first.chat.asyncStatus, 1);
    assert.deepEqual((await http("GET", "/agent/v1/offers", token)).json.offers.map((o) => o.chatId), [chatId]);
    assert.equal(await asyncStatus(chatId), "1");

    // SIGKILL before the accept; start again on the same address and data.
    const before = ann.handshakes.length;
    await server.restart("SIGKILL");
    assert.equal(await asyncStatus(chatId), "1", "status after the restart");

    // The desktop's own reconnection: a new handshake (the server forgot the session) with
    // the same agentToken, and its subscriptions again.
    await waitFor("the desktop's re-handshake", () => ann.handshakes.length > before, { timeout: 20000, every: 50 });
    const clientId = ann.handshakes.at(-1);
    await ann.subscribed.take(2, (r) => r.successful && r.clientId === clientId, 10000, "the subscriptions after the re-handshake");
    // Presence died with the node: the session token still works (stored), the state does not.
    const me = await http("GET", "/agent/v1/me", token);
    assert.equal(me.status, 200);
    assert.notEqual(me.json.presence.state, "ready");

    // Ready again: the chat is offered again, still 1; accept: -1.
    ann.offers.drain();
    assert.equal((await ann.call({ action: "state", state: "ready" })).presence.state, "ready");
    const again = await ann.offers.next((o) => o.type === "offer" && o.chatId === chatId, 15000, "the offer after the restart");
    assert.equal(again.chat.asyncStatus, 1);
    const acc = await ann.call({ action: "accept", chatId });
    assert.equal(acc.ok, true, JSON.stringify(acc));
    assert.equal(acc.chat.asyncStatus, -1);
    assert.equal(acc.chat.state, "joined");
    const prop = await ann.inbox.next((d) => d.chatId === chatId && d.properties?.GCTI_Chat_AsyncStatus, 10000, "the status change on the desktop's chat channel");
    assert.equal(prop.properties.GCTI_Chat_AsyncStatus, "-1");
    assert.equal(await asyncStatus(chatId), "-1");
    // Offered once more, accepted once: the customer's transcript has one agent join.
    const ref = await fetch(`${server.httpURL}/genesys/2/chat/${SVC}/${chatId}/refresh`, {
      method: "POST", body: new URLSearchParams({ secureKey, transcriptPosition: "1" }),
    }).then((x) => x.json());
    assert.deepEqual(ref.messages.map((e) => `${e.type}:${e.from.type}`), ["ParticipantJoined:Client", "ParticipantJoined:Agent"]);
    assert.deepEqual((await http("GET", "/agent/v1/offers", token)).json.offers, []);
  });
});
