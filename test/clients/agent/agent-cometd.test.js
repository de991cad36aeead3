// The agent side with the stock CometD JavaScript client against the real chatgate binary:
// an agent desktop (handshake with its token in ext, per-agent channel, actions on
// /service/agent) and a customer (GMS chatV2 over CometD), cross-checked through REST.
// Owner: web/agentapi.
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
const ADMIN = "agent-e2e-admin-token-0123456789";
const GRACE_MS = 1500;

describe("agent API over CometD", () => {
  let server;
  const clients = [];

  const http = (method, path, token, body) => jsonRequest(server.httpURL, method, path, token, body);
  const account = async (id, spec) => {
    const r = await http("PUT", `/admin/accounts/${id}`, ADMIN, spec);
    assert.equal(r.status, 200, JSON.stringify(r.json));
  };
  const login = async (id, password) => {
    const r = await http("POST", "/agent/v1/login", null, { id, password });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.token;
  };

  // desktop handshakes with the agent token, subscribes to its chat channel and collects.
  const desktop = async (id, token) => {
    const c = newClient(server.cometdURL, { transport: "websocket", name: `desk-${id}` });
    clients.push(c);
    await c.handshake({ ext: { agentToken: token } });
    await c.connected();
    c.inbox = new Inbox(`desktop ${id}`);
    await c.subscribe(`/agent/${id}/chat`, (m) => c.inbox.push(m.data));
    c.offers = new Inbox(`offers ${id}`);
    await c.subscribe(`/agent/${id}/offers`, (m) => c.offers.push(m.data));
    c.call = async (data) => (await c.remoteCall("agent", data)).data;
    return c;
  };
  const customer = async () => {
    const c = newClient(server.cometdURL, { transport: "long-polling", name: "customer" });
    clients.push(c);
    await c.handshake();
    await c.connected();
    c.inbox = new Inbox("customer");
    await c.subscribe(CHANNEL, (m) => c.inbox.push(m.data));
    return c;
  };
  const customerTexts = (c) => c.inbox.all.flatMap((d) => (d.messages || []).filter((e) => e.type === "Message").map((e) => e.text));

  before(async () => {
    server = await new ChatgateServer({
      name: "chatgate-agent",
      args: ["--admin-token", ADMIN, "--agent-disconnect-grace", `${GRACE_MS}ms`, "--bayeux-max-interval", "2s"],
    }).start();
    await account("ann", { displayName: "Ann", role: "agent", queues: [SVC], capacity: 3, password: "ann-password" });
    await account("bob", { displayName: "Bob", role: "agent", queues: ["sales"], capacity: 3, password: "bob-password" });
    await account("sue", { displayName: "Sue", role: "supervisor", queues: [SVC], password: "sue-password" });
  });
  after(async () => {
    for (const c of clients) await c.disconnect().catch(() => {});
    await server.close();
  });

  it("refuses a bad agent token with 401::unauthorized and another agent's channel", async () => {
    const bad = newClient(server.cometdURL, { transport: "websocket", name: "bad" });
    clients.push(bad);
    await assert.rejects(bad.handshake({ ext: { agentToken: "cgs_forged" } }), /401::unauthorized/);
    const ann = await desktop("ann", await login("ann", "ann-password"));
    await assert.rejects(ann.subscribe("/agent/bob/chat", () => {}), /subscribe_denied/);
    const r = await ann.call({ action: "join", chatId: "NoSuchChat123456" });
    assert.equal(r.ok, false);
    assert.equal(r.status, 404);
    await ann.disconnect(); // the next test counts Ann's desktops
  });

  it("reads and logout over the service channel answer what REST answers", async () => {
    const tok = await login("ann", "ann-password");
    const ann = await desktop("ann", tok);
    const sue = await desktop("sue", await login("sue", "sue-password"));
    const cust = await customer();
    await cust.publish(CHANNEL, { operation: "requestChat", nickname: "Quinn", userData: { GCTI_Chat_AsyncMode: "true", EmailAddress: "quinn@example.com" } });
    const { chatId } = await cust.inbox.next((d) => d.chatId && d.messages?.length, 10000, "requestChat answer");
    await ann.call({ action: "state", state: "ready" });
    await ann.offers.next((o) => o.type === "offer" && o.chatId === chatId, 10000, "the offer");

    // Each read over /service/agent carries the REST answer's fields.
    const offers = await ann.call({ action: "offers" });
    assert.equal(offers.ok, true);
    assert.deepEqual(offers.offers.map((o) => o.chatId), (await http("GET", "/agent/v1/offers", tok)).json.offers.map((o) => o.chatId));
    assert.ok(offers.offers.some((o) => o.chatId === chatId));
    assert.equal((await ann.call({ action: "accept", chatId })).ok, true);
    await ann.call({ action: "send", chatId, text: "Quinn, hello", visibility: "ALL" });
    await ann.call({ action: "send", chatId, text: "note to self", visibility: "INT" });
    const me = await ann.call({ action: "me" });
    assert.equal(me.account.id, "ann");
    assert.equal(me.presence.state, "ready");
    const chats = await ann.call({ action: "chats" });
    assert.deepEqual(chats.chats.map((c) => c.chatId), (await http("GET", "/agent/v1/chats", tok)).json.chats.map((c) => c.chatId));
    const one = await ann.call({ action: "chat", chatId });
    const restOne = (await http("GET", `/agent/v1/chats/${chatId}`, tok)).json;
    assert.equal(one.chat.state, "joined");
    assert.deepEqual([one.chat.chatId, one.chat.lastIndex, one.chat.capabilities], [restOne.chatId, restOne.lastIndex, restOne.capabilities]);
    const tr = await ann.call({ action: "transcript", chatId, from: 2 });
    const restTr = (await http("GET", `/agent/v1/chats/${chatId}/transcript?from=2`, tok)).json;
    assert.deepEqual(tr.events, restTr.events);
    assert.deepEqual(tr.events.filter((e) => e.type === "Message").map((e) => [e.text, e.visibility]), [["Quinn, hello", "ALL"], ["note to self", "INT"]]);
    assert.equal(tr.next, restTr.next);
    assert.deepEqual((await ann.call({ action: "workbin" })).chats, []);
    assert.ok(Array.isArray((await ann.call({ action: "history", chatId })).chats));

    // Supervisor reads: refused to an agent with REST's status, answered to a supervisor.
    const refused = await ann.call({ action: "supervisor-queues" });
    assert.deepEqual([refused.ok, refused.status], [false, 403]);
    assert.equal((await http("GET", "/agent/v1/supervisor/queues", tok)).status, 403);
    const queues = await sue.call({ action: "supervisor-queues" });
    assert.equal(queues.ok, true);
    assert.ok(queues.queues.some((q) => q.name === SVC), JSON.stringify(queues));
    assert.ok((await sue.call({ action: "supervisor-chats" })).chats.some((c) => c.chatId === chatId));
    assert.ok((await sue.call({ action: "supervisor-agents" })).agents.some((a) => a.id === "ann" && a.state === "ready"));
    assert.equal((await sue.call({ action: "supervisor-queue", queue: SVC })).queue, SVC);
    // A chat the caller may not see: 404 / 403 as over REST, nothing read.
    assert.equal((await sue.call({ action: "transcript", chatId: "NoSuchChat123456" })).status, 404);
    assert.equal((await ann.call({ action: "transcript", chatId, from: -1 })).status, 400);

    // Logout over the channel: the token is revoked (REST refuses it), the presence is
    // logged-out, the next service call is 401.
    await ann.call({ action: "end", chatId });
    const out = await ann.call({ action: "logout" });
    assert.equal(out.ok, true);
    assert.equal(out.presence.state, "logged-out");
    assert.equal((await http("GET", "/agent/v1/me", tok)).status, 401);
    assert.equal((await ann.call({ action: "me" })).status, 401);
    await ann.disconnect();
    await sue.disconnect();
    await cust.disconnect();
  });

  it("offer, accept, messages both ways, INT hidden from the customer, hold, re-offer, transfer, release, lost desktop, end", async () => {
    const annTok = await login("ann", "ann-password");
    const bobTok = await login("bob", "bob-password");
    const ann = await desktop("ann", annTok);
    const bob = await desktop("bob", bobTok);
    const cust = await customer();

    await cust.publish(CHANNEL, { operation: "requestChat", nickname: "Carla", userData: { GCTI_Chat_AsyncMode: "true" } });
    const created = await cust.inbox.next((d) => d.chatId, 10000, "requestChat answer");
    const chatId = created.chatId;
    const sk = created.secureKey;

    // With routing nobody sees a chat before it is offered: Bob's accept is refused.
    assert.equal((await http("GET", `/agent/v1/chats/${chatId}`, bobTok)).status, 403);
    assert.equal((await http("GET", `/agent/v1/chats/${chatId}`, annTok)).status, 403);
    const refused = await bob.call({ action: "accept", chatId });
    assert.equal(refused.status, 403);

    // Ready: the chat is offered to Ann on her offers channel, status 1 and nothing changed
    // by the refusal; accept: -1.
    assert.equal((await ann.call({ action: "state", state: "ready" })).presence.state, "ready");
    const offer = await ann.offers.next((o) => o.type === "offer" && o.chatId === chatId, 10000, "the offer");
    assert.deepEqual(offer.chat.capabilities, ["accept", "reject"]);
    assert.equal(offer.chat.asyncStatus, 1);
    assert.equal(offer.chat.lastIndex, 1);
    let a = await ann.call({ action: "accept", chatId });
    assert.equal(a.ok, true, JSON.stringify(a));
    assert.equal(a.chat.asyncStatus, -1);
    assert.ok(a.chat.capabilities.includes("hold"));
    await cust.inbox.next((d) => d.messages?.some((e) => e.type === "ParticipantJoined" && e.from.type === "Agent"), 10000, "the agent's join");

    // Messages both ways.
    await cust.publish(CHANNEL, { operation: "sendMessage", secureKey: sk, message: "hello, I need help" });
    const got = await ann.inbox.next((d) => d.event?.type === "Message" && d.event.from.type === "Client", 10000, "the customer's message");
    assert.equal(got.event.text, "hello, I need help");
    assert.equal(got.event.visibility, "ALL");
    a = await ann.call({ action: "send", chatId, text: "internal note", visibility: "INT" });
    assert.equal(a.ok, true);
    const vip = await ann.call({ action: "send", chatId, text: "x", visibility: "VIP" });
    assert.equal(vip.status, 403);
    await ann.call({ action: "send", chatId, text: "Hi Carla, Ann here" });
    await cust.inbox.next((d) => d.messages?.some((e) => e.text === "Hi Carla, Ann here"), 10000, "the agent's message");
    assert.ok(!customerTexts(cust).includes("internal note"), "INT message reached the customer over CometD");
    const refresh = await fetch(`${server.httpURL}/genesys/2/chat/${SVC}/${chatId}/refresh`, {
      method: "POST", body: new URLSearchParams({ secureKey: sk, transcriptPosition: "1" }),
    }).then((x) => x.json());
    const restTexts = refresh.messages.filter((e) => e.type === "Message").map((e) => e.text);
    assert.deepEqual(restTexts, ["hello, I need help", "Hi Carla, Ann here"]);

    // Hold: Ann leaves, -2, the chat is in her workbin.
    a = await ann.call({ action: "hold", chatId });
    assert.equal(a.chat.asyncStatus, -2);
    assert.equal(a.chat.state, "held");
    const wb = await http("GET", "/agent/v1/workbin", annTok);
    assert.deepEqual(wb.json.chats.map((c) => c.chatId), [chatId]);

    // The customer writes while nobody is there: 2, and the chat is offered again to Ann,
    // its last agent. She accepts: -1.
    await cust.publish(CHANNEL, { operation: "sendMessage", secureKey: sk, message: "are you there?" });
    const again = await ann.offers.next((o) => o.type === "offer" && o.chatId === chatId, 10000, "the re-offer after hold");
    assert.equal(again.lastAgent, true);
    assert.equal(again.chat.asyncStatus, 2);
    a = await ann.call({ action: "accept", chatId });
    assert.equal(a.chat.asyncStatus, -1);

    // Transfer to Bob: Bob's desktop learns it joined; Ann is out.
    await bob.call({ action: "state", state: "ready" });
    a = await ann.call({ action: "transfer", chatId, agent: "bob" });
    assert.equal(a.ok, true, JSON.stringify(a));
    const bj = await bob.inbox.next((d) => d.event?.type === "ParticipantJoined" && d.event.from.userId === "bob", 10000, "bob's join");
    assert.equal(bj.chat.state, "joined");
    assert.equal(bj.chat.asyncStatus, -1);
    assert.equal((await ann.call({ action: "send", chatId, text: "still me" })).status, 403);
    await bob.call({ action: "send", chatId, text: "Bob here" });
    await cust.inbox.next((d) => d.messages?.some((e) => e.text === "Bob here"), 10000, "bob's message");

    // A supervisor monitors (VIP: only supervisors), coaches (INT: agents too) and barges in
    // (ALL: the customer too).
    const sue = await desktop("sue", await login("sue", "sue-password"));
    a = await sue.call({ action: "join", chatId });
    assert.equal(a.chat.mode, "monitor");
    await sue.call({ action: "send", chatId, text: "sue monitor" });
    await sue.call({ action: "mode", chatId, mode: "coach" });
    await sue.call({ action: "send", chatId, text: "sue coach" });
    await sue.call({ action: "mode", chatId, mode: "barge" });
    await sue.call({ action: "send", chatId, text: "sue barge" });
    await cust.inbox.next((d) => d.messages?.some((e) => e.text === "sue barge"), 10000, "the barge message at the customer");
    await bob.inbox.next((d) => d.event?.text === "sue barge", 10000, "the barge message at the agent");
    const bobTexts = bob.inbox.all.filter((d) => d.event?.type === "Message").map((d) => d.event.text);
    assert.ok(bobTexts.includes("sue coach") && !bobTexts.includes("sue monitor"), `agent saw ${bobTexts}`);
    assert.ok(!bob.inbox.all.some((d) => d.event?.type === "ParticipantJoined" && d.event.from.userId === "sue"), "the silent join reached the agent");
    const custTexts = customerTexts(cust);
    assert.ok(!custTexts.includes("sue monitor") && !custTexts.includes("sue coach"), `customer saw ${custTexts}`);
    const sueTexts = sue.inbox.all.filter((d) => d.event?.type === "Message").map((d) => d.event.text);
    assert.deepEqual(sueTexts.filter((t) => t.startsWith("sue ")), ["sue monitor", "sue coach", "sue barge"]);
    await sue.call({ action: "leave", chatId });

    // Release to the queue: 5; routed again, to Ann (Bob, who released it, is skipped).
    a = await bob.call({ action: "release", chatId });
    assert.equal(a.chat.asyncStatus, 5);
    await ann.offers.next((o) => o.type === "offer" && o.chatId === chatId, 10000, "the offer after release");
    a = await ann.call({ action: "accept", chatId });
    assert.equal(a.chat.asyncStatus, -1);

    // Ann's desktop disappears (no logout) and stays away past the grace period: status 4,
    // Ann removed with quit reason 3.
    await ann.disconnect();
    await waitFor("status 4 after the grace period",
      async () => (await http("GET", `/agent/v1/chats/${chatId}`, annTok)).json.asyncStatus === 4, { timeout: 15000 });
    const tr = await http("GET", `/agent/v1/chats/${chatId}/transcript`, annTok);
    const left = tr.json.events.filter((e) => e.type === "ParticipantLeft" && e.from.userId === "ann").pop();
    assert.equal(left.userData["quit-reason-code"], "3");

    // Her new desktop: ready, the chat (status 4) is offered again; a reconnect within the
    // grace period keeps everything.
    const ann2 = await desktop("ann", annTok);
    await ann2.call({ action: "state", state: "ready" });
    await ann2.offers.next((o) => o.type === "offer" && o.chatId === chatId, 10000, "the offer after the lost desktop");
    a = await ann2.call({ action: "accept", chatId });
    assert.equal(a.chat.asyncStatus, -1);
    await ann2.disconnect();
    const ann3 = await desktop("ann", annTok);
    await waitFor("the server to cancel the grace timer", () => server.log.some((l) => l.includes("reconnected within the grace period")), { timeout: 10000 });
    assert.equal((await http("GET", `/agent/v1/chats/${chatId}`, annTok)).json.state, "joined");

    // End.
    a = await ann3.call({ action: "end", chatId });
    assert.equal(a.chat.ended, true);
    await cust.inbox.next((d) => d.chatEnded === true, 10000, "the end of the chat");
    assert.equal((await ann3.call({ action: "send", chatId, text: "late" })).status, 409);
  });
});
