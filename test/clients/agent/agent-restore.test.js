// Desktop restoration with ChatServerWebapiToken (issue 9; spec async-chat.md §5) with the
// stock CometD client as the desktops against the real binary, across a SIGKILL: the first
// agent who joins gives the chat its restoration token (userData); the chat is held (-2);
// chatgate is killed and started again; another desktop, which may not otherwise open the
// chat, joins over /service/agent with the token it read from the interaction's userData
// (the workflow API) and so restores the session (session-restore-extend-by: agent):
// restored by "agent", status -1. A wrong token and no token are refused and change
// nothing; the workflow may not restore (409) under the same option. And status 3 where it
// happens on the desktop side: a held chat whose customer stays silent past
// async-idle-alert is re-offered with status 3 to its last agent.
//
// Part of `npm test` (from test/clients: node --test agent/ runs it alone).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ChatgateServer } from "../lib/server.js";
import { newClient } from "../lib/cometd-client.js";
import { Inbox } from "../lib/wait.js";

const SVC = "support";
const CHANNEL = `/service/chatV2/${SVC}`;
const ADMIN = "agent-restore-admin-token-0123456789";
const QUIET = "quiet";

describe("desktop restoration with ChatServerWebapiToken over CometD", () => {
  let server, dir;
  const clients = [];

  const http = async (method, p, token, body) => {
    const r = await fetch(`${server.httpURL}${p}`, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  };
  const session = async (chatId) => {
    const r = await http("GET", `/workflow/v1/chats/${chatId}`, ADMIN);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json;
  };
  const login = async (id) => {
    const r = await http("POST", "/agent/v1/login", null, { id, password: `${id}-password` });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.token;
  };
  const desktop = async (id) => {
    const c = newClient(server.cometdURL, { transport: "websocket", name: `desk-${id}` });
    clients.push(c);
    await c.handshake({ ext: { agentToken: await login(id) } });
    await c.connected();
    c.offers = new Inbox(`offers ${id}`);
    await c.subscribe(`/agent/${id}/offers`, (m) => c.offers.push(m.data));
    c.call = async (data) => (await c.remoteCall("agent", data)).data;
    return c;
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "chatgate-restore-"));
    const cfg = path.join(dir, "chatgate.json");
    writeFileSync(cfg, JSON.stringify({
      chat: { settings: { "session-restore-extend-by": "agent", "flex-disconnect-timeout": 3600 } },
      // A service whose held chats get the async idle alert soon (status 3).
      [`chat.${QUIET}`]: { settings: { "async-idle-alert": 2, "async-idle-close": 3600 } },
    }));
    server = await new ChatgateServer({ name: "chatgate-agent-restore", args: ["--config", cfg, "--admin-token", ADMIN] }).start();
    for (const [id, queues] of [["ann", [SVC]], ["bob", ["sales"]], ["cat", [QUIET]]]) {
      const r = await http("PUT", `/admin/accounts/${id}`, ADMIN, { displayName: id, role: "agent", queues, capacity: 2, password: `${id}-password` });
      assert.equal(r.status, 200, JSON.stringify(r.json));
    }
  });
  after(async () => {
    for (const c of clients) await c.disconnect().catch(() => {});
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a held chat is restored after a SIGKILL by a desktop joining with the chat's token", async () => {
    const ann = await desktop("ann");
    const cust = newClient(server.cometdURL, { transport: "long-polling", name: "customer" });
    clients.push(cust);
    await cust.handshake();
    await cust.connected();
    cust.inbox = new Inbox("customer");
    await cust.subscribe(CHANNEL, (m) => cust.inbox.push(m.data));
    await cust.publish(CHANNEL, { operation: "requestChat", nickname: "Eve", userData: { GCTI_Chat_AsyncMode: "true" } });
    const { chatId, secureKey } = await cust.inbox.next((d) => d.chatId, 10000, "the requestChat answer");

    await ann.call({ action: "state", state: "ready" });
    await ann.offers.next((o) => o.type === "offer" && o.chatId === chatId, 10000, "the offer");
    const acc = await ann.call({ action: "accept", chatId });
    assert.equal(acc.chat.asyncStatus, -1);
    const token = acc.chat.userData.ChatServerWebapiToken;
    assert.ok(token, "the first agent's join gave the chat a restoration token");
    const held = await ann.call({ action: "hold", chatId });
    assert.equal(held.chat.asyncStatus, -2);
    await cust.disconnect();
    await ann.disconnect();

    await server.restart("SIGKILL");

    // The token is in the interaction's userData (it survived the restart with the chat).
    const before = await session(chatId);
    assert.equal(before.userData.ChatServerWebapiToken, token);
    assert.equal(before.properties.GCTI_Chat_AsyncStatus, "-2");
    assert.equal(before.restored, false);

    // Bob's queue is not this chat's: without the token, or with a wrong one, he is refused
    // and nothing changes.
    const bob = await desktop("bob");
    const none = await bob.call({ action: "join", chatId });
    assert.deepEqual([none.ok, none.status], [false, 403]);
    const wrong = await bob.call({ action: "join", chatId, ChatServerWebapiToken: `${token}x` });
    assert.deepEqual([wrong.ok, wrong.status], [false, 403]);
    const unchanged = await session(chatId);
    assert.equal(unchanged.lastIndex, before.lastIndex);
    assert.equal(unchanged.properties.GCTI_Chat_AsyncStatus, "-2");
    assert.equal(unchanged.restored, false);
    // The workflow may not restore under session-restore-extend-by agent.
    const wf = await http("POST", `/workflow/v1/chats/${chatId}/restore`, ADMIN);
    assert.equal(wf.status, 409);
    assert.equal(wf.json.code, "restore_not_allowed");

    // With the token: joined and restored by the agent desktop, -1.
    const join = await bob.call({ action: "join", chatId, ChatServerWebapiToken: token });
    assert.equal(join.ok, true, JSON.stringify(join));
    assert.equal(join.restored, true);
    assert.equal(join.chat.asyncStatus, -1);
    assert.equal(join.chat.state, "joined");
    const after = await session(chatId);
    assert.equal(after.restored, true);
    assert.equal(after.restoredBy, "agent");
    assert.equal(after.properties.GCTI_Chat_AsyncStatus, "-1");
    assert.equal(after.lastIndex, before.lastIndex + 1, "one event: Bob's join");
    await bob.call({ action: "send", chatId, text: "Bob here, picking this up" });

    // The customer resumes and reads the whole conversation, Ann's hold and Bob's join.
    const back = newClient(server.cometdURL, { transport: "websocket", name: "customer-back" });
    clients.push(back);
    await back.handshake();
    await back.connected();
    back.inbox = new Inbox("customer back");
    await back.subscribe(CHANNEL, (m) => back.inbox.push(m.data));
    await back.publish(CHANNEL, { operation: "requestNotifications", secureKey, transcriptPosition: "1" });
    const replay = await back.inbox.next((d) => d.chatId === chatId && d.messages?.length >= 5, 10000, "the replay");
    assert.deepEqual(replay.messages.map((e) => `${e.index}:${e.type}:${e.from.nickname}`),
      ["1:ParticipantJoined:Eve", "2:ParticipantJoined:ann", "3:ParticipantLeft:ann", "4:ParticipantJoined:bob", "5:Message:bob"]);
  });

  it("a held chat whose customer stays silent past the alert is re-offered with status 3 to its last agent", async () => {
    const cat = await desktop("cat");
    const cust = newClient(server.cometdURL, { transport: "long-polling", name: "customer-quiet" });
    clients.push(cust);
    await cust.handshake();
    await cust.connected();
    cust.inbox = new Inbox("customer quiet");
    const channel = `/service/chatV2/${QUIET}`;
    await cust.subscribe(channel, (m) => cust.inbox.push(m.data));
    await cust.publish(channel, { operation: "requestChat", nickname: "Fay", userData: { GCTI_Chat_AsyncMode: "true" } });
    const { chatId } = await cust.inbox.next((d) => d.chatId, 10000, "the requestChat answer");
    await cat.call({ action: "state", state: "ready" });
    const first = await cat.offers.next((o) => o.type === "offer" && o.chatId === chatId, 10000, "the offer");
    assert.equal(first.chat.asyncStatus, 1);
    assert.equal((await cat.call({ action: "accept", chatId })).chat.asyncStatus, -1);
    assert.equal((await cat.call({ action: "hold", chatId })).chat.asyncStatus, -2);
    // Silence: the alert sets 3, which routes the chat again, to its last agent first.
    const again = await cat.offers.next((o) => o.type === "offer" && o.chatId === chatId, 15000, "the offer after the alert");
    assert.equal(again.chat.asyncStatus, 3);
    assert.equal(again.lastAgent, true);
    await cust.inbox.next((d) => d.messages?.some((e) => e.type === "Notice" && e.from.type === "External"), 10000, "the alert notice at the customer");
    const acc = await cat.call({ action: "accept", chatId });
    assert.equal(acc.chat.asyncStatus, -1);
    assert.equal((await session(chatId)).properties.GCTI_Chat_AsyncStatus, "-1");
  });
});
