// The supervisor's live wall board (/agent/{id}/board) with the stock CometD client against
// the real chatgate binary: an agent's token is refused the channel (403, nothing
// subscribed), a supervisor gets a snapshot on subscribe, then a coalesced update when a
// customer's chat arrives and when it is accepted. Owner: web/agentapi.
//
// Part of `npm test` (from test/clients: node --test agent/agent-board.test.js runs it alone).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer } from "../lib/server.js";
import { newClient } from "../lib/cometd-client.js";
import { Inbox } from "../lib/wait.js";
import { jsonRequest } from "../lib/http.js";

const SVC = "support";
const ADMIN = "agent-board-admin-token-0123456789";

describe("supervisor wall board over CometD", () => {
  let server;
  const clients = [];

  const http = (method, path, token, body) => jsonRequest(server.httpURL, method, path, token, body);
  const login = async (id, password) => {
    const r = await http("POST", "/agent/v1/login", null, { id, password });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.token;
  };
  const desktop = async (name, token, transport = "websocket") => {
    const c = newClient(server.cometdURL, { transport, name });
    clients.push(c);
    await c.handshake({ ext: { agentToken: token } });
    await c.connected();
    c.call = async (data) => (await c.remoteCall("agent", data)).data;
    return c;
  };

  before(async () => {
    server = await new ChatgateServer({ name: "chatgate-board", args: ["--admin-token", ADMIN] }).start();
    for (const [id, spec] of Object.entries({
      ann: { displayName: "Ann", role: "agent", queues: [SVC], capacity: 2, password: "ann-password" },
      sue: { displayName: "Sue", role: "supervisor", queues: [SVC], password: "sue-password" },
    })) {
      const r = await http("PUT", `/admin/accounts/${id}`, ADMIN, spec);
      assert.equal(r.status, 200, JSON.stringify(r.json));
    }
  });
  after(async () => {
    for (const c of clients) await c.disconnect().catch(() => {});
    await server.close();
  });

  it("refuses an agent, then gives a supervisor a snapshot and live updates", async () => {
    // An agent's token: its own board and the supervisor's are refused with 403.
    const ann = await desktop("ann", await login("ann", "ann-password"));
    const annBoard = new Inbox("ann board");
    await assert.rejects(ann.subscribe("/agent/ann/board", (m) => annBoard.push(m.data)), /403::subscribe_denied/);
    await assert.rejects(ann.subscribe("/agent/sue/board", (m) => annBoard.push(m.data)), /403::subscribe_denied/);

    // The supervisor (long-polling, like a browser behind a proxy): snapshot first.
    const sue = await desktop("sue", await login("sue", "sue-password"), "long-polling");
    const board = new Inbox("sue board");
    await sue.subscribe("/agent/sue/board", (m) => board.push(m.data));
    const snap = await board.next((b) => b.type === "snapshot", 10000, "the snapshot");
    assert.ok(snap.queues.some((q) => q.name === SVC), JSON.stringify(snap.queues));
    assert.deepEqual(snap.chats, []);
    assert.ok(snap.agents.some((a) => a.id === "ann" && a.connected), JSON.stringify(snap.agents));
    assert.ok(snap.samples.length >= 1, "the snapshot carries the chart's samples");
    assert.equal(snap.intervalMs, 1000);

    // A customer's chat arrives on the board as an update, waiting in the queue.
    const cust = newClient(server.cometdURL, { transport: "long-polling", name: "customer" });
    clients.push(cust);
    await cust.handshake();
    await cust.connected();
    const custIn = new Inbox("customer");
    await cust.subscribe(`/service/chatV2/${SVC}`, (m) => custIn.push(m.data));
    await cust.publish(`/service/chatV2/${SVC}`, { operation: "requestChat", nickname: "Quinn", userData: { GCTI_Chat_AsyncMode: "true" } });
    const { chatId } = await custIn.next((d) => d.chatId, 10000, "requestChat answer");
    const arrived = await board.next((b) => b.chats.some((c) => c.chatId === chatId), 10000, "the chat on the board");
    assert.equal(arrived.type, "update");
    const q = arrived.queues.find((x) => x.name === SVC);
    assert.equal(q.waiting, 1);
    assert.ok(q.longestWaitSince, JSON.stringify(q));
    assert.equal(arrived.chats.find((c) => c.chatId === chatId).state, "waiting");

    // Ann gets ready, is offered the chat and accepts: the board shows it handled (-1).
    const offers = new Inbox("offers");
    await ann.subscribe("/agent/ann/offers", (m) => offers.push(m.data));
    await ann.call({ action: "state", state: "ready" });
    await offers.next((o) => o.type === "offer" && o.chatId === chatId, 10000, "the offer");
    assert.equal((await ann.call({ action: "accept", chatId })).ok, true);
    const handled = await board.next((b) => {
      const c = b.chats.find((x) => x.chatId === chatId);
      return c && c.state === "active" && c.asyncStatus === -1;
    }, 10000, "the chat handled on the board");
    assert.equal(handled.queues.find((x) => x.name === SVC).waiting, 0);
    assert.equal(handled.agents.find((a) => a.id === "ann").chats, 1);

    // Coalescing: at most one board per second (the snapshot answers the subscribe).
    const ups = board.all.filter((b) => b.type === "update").map((b) => Date.parse(b.at));
    for (let i = 1; i < ups.length; i++) assert.ok(ups[i] - ups[i - 1] >= 1000, `boards ${ups[i] - ups[i - 1]} ms apart`);
    assert.equal(annBoard.all.length, 0, "the agent received no board");
  });
});
