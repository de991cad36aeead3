// The seed's recipe (spec async-chat.md §5, issue 11 item 5) end to end against the real
// binary, with real timers kept small:
//
//   small async-idle-alert / async-idle-close → an async chat started over CometD with Web
//   Push data → the customer writes and closes its client → the alert (status 3, CheckAt) →
//   chatgate SIGKILLed and restarted on the same data before CheckAt → CheckAt passes → the
//   built-in stuck strategy (restore-and-route) restores the chat and routes it (status 5) →
//   an agent logs in over CometD, is offered the chat, accepts (-1) and answers → the
//   customer's push arrives at the local Web Push service, VAPID-authenticated with the
//   installed key and decrypted → the customer resumes over CometD with a new client and its
//   secureKey/alias and gets the whole transcript, in order, nothing lost or repeated.
//
// Why the restart also raises the idle timers (the config file is rewritten while chatgate
// is down): chats are durable and a running chatgate closes an alerted chat at alert +
// close, before CheckAt (= alert + close + margin). In chatgate a chat is "stuck" — live
// past its CheckAt — when its close did not happen on time (docs/chatcore.md, "The
// original's end-to-end test, adapted"). The operator here restarts chatgate to apply
// longer idle timers; the chats alerted under the old ones keep the CheckAt they announced
// (stored with the alert), so they become due at that time and the stuck strategy takes
// them. Without the raise the restarted node closes the chat on time and nothing is stuck.
//
// Run alone: (repo root) make build && go build -o bin/webpushfake ./test/webpushfake &&
//   cd test/clients && npm ci && node --test --test-force-exit recipe/
// Part of `npm test`.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ChatgateServer, sessionsGauge } from "../lib/server.js";
import { newClient } from "../lib/cometd-client.js";
import { Inbox, waitFor } from "../lib/wait.js";
import { startWebPushFake } from "../lib/webpushfake.js";

const SVC = "customer-support";
const CHANNEL = `/service/chatV2/${SVC}`;
const ADMIN = "seed-recipe-admin-token-0123456789";
const SECRETS = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const SUBJECT = "mailto:ops@example.com";

// The idle timers before the restart (seconds): alert 3 s after the customer's message,
// close 5 s after the alert, CheckAt 3 s after that.
const ALERT = 3, CLOSE = 5, MARGIN = 3;

function config(alert, close) {
  return JSON.stringify({
    "stuck-strategy": "restore-and-route",
    "sweep-interval": "200ms",
    "push-webpush-allowed-hosts": ["127.0.0.1"],
    chat: {
      settings: {
        "async-idle-alert": alert, "async-idle-close": close, "async-check-at-margin": MARGIN,
        "session-restore-extend-by": "esp", "session-restore-push-send": true,
        // No liveness pings during the test: every push at the fake is one the chat caused.
        "flex-push-timeout": 3600,
      },
    },
  });
}

// vapidKeys makes an application server key pair in the form chatgate stores (base64url raw
// P-256: 65-byte public point, 32-byte private scalar).
function vapidKeys() {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const jwk = privateKey.export({ format: "jwk" });
  const b = (s) => Buffer.from(s, "base64url");
  const pub = Buffer.concat([Buffer.from([4]), b(jwk.x), b(jwk.y)]);
  return { publicKey: pub.toString("base64url"), privateKey: jwk.d };
}

describe("the seed's recipe", () => {
  let server, fake, dir, cfgFile;
  const clients = [];

  const http = async (method, p, token, body) => {
    const r = await fetch(`${server.httpURL}${p}`, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = text; }
    return { status: r.status, json, text };
  };
  const session = async (chatId) => {
    const r = await http("GET", `/workflow/v1/chats/${chatId}`, ADMIN);
    assert.equal(r.status, 200, r.text);
    return r.json;
  };
  const status = (s) => s.properties.GCTI_Chat_AsyncStatus;
  const checkAt = (s) => Number(s.properties.GCTI_Chat_AsyncCheckAt);

  const customer = async (transport) => {
    const c = newClient(server.cometdURL, { transport, name: `customer-${transport}` });
    clients.push(c);
    await c.handshake();
    await c.connected();
    c.inbox = new Inbox(`customer ${transport}`);
    await c.subscribe(CHANNEL, (m) => c.inbox.push(m.data));
    return c;
  };
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

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "chatgate-recipe-"));
    const keys = vapidKeys();
    // The fake accepts pushes signed for this application server key only.
    fake = await startWebPushFake(dir, { vapid: keys.publicKey });
    cfgFile = path.join(dir, "chatgate.json");
    writeFileSync(cfgFile, config(ALERT, CLOSE));
    server = await new ChatgateServer({
      name: "chatgate-recipe",
      // SSL_CERT_FILE: Go's override of the system roots, so chatgate trusts the fake's TLS.
      env: { SSL_CERT_FILE: fake.cert, CHATGATE_SECRETS_KEY: SECRETS },
      args: ["--config", cfgFile, "--admin-token", ADMIN],
    }).start();
    const put = await http("PUT", "/admin/push/credentials/webpush/default", ADMIN, { ...keys, subject: SUBJECT });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.publicKey, keys.publicKey);
    const acct = await http("PUT", "/admin/accounts/ann", ADMIN,
      { displayName: "Ann", role: "agent", queues: [SVC], capacity: 3, password: "ann-password-1" });
    assert.equal(acct.status, 200, acct.text);
  });
  after(async () => {
    for (const c of clients) await c.disconnect().catch(() => {});
    await server?.close();
    await fake?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("alert, SIGKILL and restart before CheckAt, stuck strategy restores and routes, agent answers, push, resume with the full transcript", async () => {
    const started = new Date();
    const sub = await fake.subscription();
    const subId = sub.endpoint.split("/").pop();
    // The dispatcher sends a chat's pushes in parallel (and push services keep no order
    // either): they are put in transcript order by the position each carries.
    const pushes = async () => (await fake.messages()).filter((m) => m.subscription === subId)
      .map((m) => ({ ...m, body: JSON.parse(m.payload) }))
      .sort((x, y) => Number(x.body.data.transcriptPosition) - Number(y.body.data.transcriptPosition));

    // 1. The customer starts an async chat over CometD with its push subscription, writes,
    //    and closes the client.
    const cust = await customer("long-polling");
    await cust.publish(CHANNEL, {
      operation: "requestChat", nickname: "Carla", subject: "parcel",
      userData: {
        GCTI_Chat_AsyncMode: "true", push_notification_type: "webpush",
        push_notification_subscription: JSON.stringify(sub), push_notification_language: "en",
      },
    });
    const created = await cust.inbox.next((d) => d.chatId, 10000, "the requestChat answer");
    assert.equal(created.statusCode, 0);
    const { chatId, secureKey, userId, alias } = created;
    await cust.publish(CHANNEL, { operation: "sendMessage", secureKey, message: "my parcel never arrived" });
    await cust.inbox.next((d) => d.messages?.some((e) => e.text === "my parcel never arrived"), 10000, "the message pushed back");
    assert.equal(status(await session(chatId)), "2", "the customer wrote while no agent is there");
    await cust.disconnect();
    await waitFor("the customer's Bayeux session gone", async () => (await sessionsGauge(server)) === 0, { timeout: 10000 });

    // 2. The alert: status 3 and CheckAt; the customer (no live connection) gets its push.
    const alerted = await waitFor("the async idle alert (status 3)", async () => {
      const s = await session(chatId);
      return status(s) === "3" && s;
    }, { timeout: (ALERT + 10) * 1000, every: 50 });
    const due = checkAt(alerted);
    assert.ok(due * 1000 > Date.now(), `CheckAt ${due} already passed at the alert`);
    await waitFor("the IdleAlert push at the fake", async () => (await pushes()).some((m) => m.body.data.event === "IdleAlert"),
      { timeout: 10000, every: 50 });

    // 3. The operator applies longer idle timers: the file is rewritten, chatgate is killed
    //    (SIGKILL, no shutdown at all) and started again on the same data directory — before
    //    CheckAt and before the old close would have fired.
    writeFileSync(cfgFile, config(3600, 3600));
    await server.restart("SIGKILL");
    const restartedAt = Date.now();
    assert.ok(restartedAt < due * 1000, `restart done at ${restartedAt}, after CheckAt ${due}`);
    const back = await session(chatId);
    assert.equal(status(back), "3", "the alerted status survived the restart");
    assert.equal(checkAt(back), due, "CheckAt is the one announced at the alert");
    assert.equal(back.restored, false);
    assert.equal(back.ended, false);

    // 4. CheckAt passes: the stuck strategy restores the chat (by the workflow: esp) and,
    //    with no agent in it, gives it status 5 so routing offers it.
    const restored = await waitFor("the stuck strategy's restoration", async () => {
      const s = await session(chatId);
      return s.restored && s;
    }, { timeout: due * 1000 - Date.now() + 15000, every: 100 });
    assert.ok(Date.parse(restored.restoredAt) >= due * 1000, `restored at ${restored.restoredAt}, before CheckAt ${due}`);
    assert.equal(restored.restoredBy, "esp");
    assert.equal(status(restored), "5");
    assert.ok(checkAt(restored) > due, "the restoration moved CheckAt on");
    assert.equal(restored.ended, false);
    assert.ok(server.log.some((l) => l.includes("sweep: stuck chat handled") && l.includes(chatId)), "the sweep logged the chat");

    // 5. An agent logs in (after the restoration), its desktop gets the offer, accepts and
    //    answers.
    const login = await http("POST", "/agent/v1/login", null, { id: "ann", password: "ann-password-1" });
    assert.equal(login.status, 200, login.text);
    const ann = await desktop("ann", login.json.token);
    assert.equal((await ann.call({ action: "state", state: "ready" })).presence.state, "ready");
    const offer = await ann.offers.next((o) => o.type === "offer" && o.chatId === chatId, 15000, "the offer of the restored chat");
    assert.equal(offer.chat.asyncStatus, 5);
    const acc = await ann.call({ action: "accept", chatId });
    assert.equal(acc.ok, true, JSON.stringify(acc));
    assert.equal(acc.chat.asyncStatus, -1);
    const answer = "Hi Carla, your parcel is on its way";
    const sent = await ann.call({ action: "send", chatId, text: answer });
    assert.equal(sent.ok, true, JSON.stringify(sent));
    const answerIndex = sent.events.find((e) => e.type === "Message").index;

    // 6. The pushes at the fake: the alert before the restart, then the agent's join and
    //    message — each once, VAPID-signed with the installed key (the fake refuses any
    //    other), decrypted with the subscription's key.
    const got = await waitFor("the agent's join and message pushed", async () => {
      const all = await pushes();
      return ["AgentJoined", "Message"].every((e) => all.some((m) => m.body.data.event === e)) && all;
    }, { timeout: 15000, every: 50 });
    assert.deepEqual(got.map((m) => m.body.data.event), ["IdleAlert", "AgentJoined", "Message"]);
    const msg = got[2];
    assert.equal(msg.body.title, "Ann");
    assert.equal(msg.body.body, answer);
    assert.equal(msg.body.data.chatId, chatId);
    assert.equal(msg.body.data.userId, userId);
    assert.equal(msg.body.data.alias, alias);
    assert.equal(String(msg.body.data.transcriptPosition), String(answerIndex));
    assert.equal(got[1].body.body, "Ann joined the chat");
    assert.equal(String(got[0].body.data.transcriptPosition), String(alerted.lastIndex), "the alert's push carries the alert's index");
    for (const m of got) {
      assert.equal(m.subject, SUBJECT, "the VAPID JWT's subject");
      assert.ok(m.ttl > 0, "a TTL the push service keeps the message for");
    }
    // The fake does authenticate: the same endpoint without a VAPID authorization is refused.
    assert.equal(await fake.post(sub.endpoint, { TTL: "60", "Content-Encoding": "aes128gcm" }, "x"), 403);

    // 7. The customer resumes over CometD (a new client, websocket this time) with its
    //    secureKey and alias, and receives the whole transcript.
    const again = await customer("websocket");
    await again.publish(CHANNEL, { operation: "requestNotifications", secureKey, alias, transcriptPosition: "1" });
    const replay = await again.inbox.next((d) => d.chatId === chatId && d.messages?.length > 0, 10000, "the replayed transcript");
    assert.equal(replay.statusCode, 0);
    const seen = replay.messages.map((e) => ({ index: e.index, type: e.type, from: e.from?.type, text: e.text }));
    assert.deepEqual(seen.map((e) => e.index), seen.map((_, i) => i + 1), `indices in order, none missing or repeated: ${JSON.stringify(seen)}`);
    assert.deepEqual(seen.map((e) => `${e.type}:${e.from}`), [
      "ParticipantJoined:Client", "Message:Client", "Notice:External", "ParticipantJoined:Agent", "Message:Agent",
    ]);
    assert.equal(seen[1].text, "my parcel never arrived");
    assert.equal(seen[4].text, answer);
    assert.equal(replay.nextPosition, seen.length + 1);
    // The same transcript as the agent reads it over REST.
    const tr = await http("GET", `/agent/v1/chats/${chatId}/transcript`, login.json.token);
    assert.deepEqual(tr.json.events.map((e) => [e.index, e.type, e.text ?? ""]), replay.messages.map((e) => [e.index, e.type, e.text ?? ""]));

    // The conversation goes on both ways.
    await again.publish(CHANNEL, { operation: "sendMessage", secureKey, message: "thank you!" });
    const reply = await ann.inbox.next((d) => d.event?.type === "Message" && d.event.text === "thank you!", 10000, "the customer's reply at the desktop");
    assert.equal(reply.event.index, seen.length + 1);
    const live = (await session(chatId));
    assert.equal(status(live), "-1");
    assert.equal(live.lastIndex, seen.length + 1);

    // 8. The feed recorded the status history in order: created 1, customer wrote 2, alert 3,
    //    restored and routed 5, accepted -1.
    const exp = await fetch(`${server.httpURL}/workflow/v1/feed/export?from=${encodeURIComponent(started.toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 60000).toISOString())}`,
      { headers: { Authorization: `Bearer ${ADMIN}` } });
    assert.equal(exp.status, 200);
    const records = (await exp.text()).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(records.at(-1).kind, "end");
    const statuses = records.filter((r) => r.chatId === chatId && r.kind === "properties" && r.properties.GCTI_Chat_AsyncStatus)
      .map((r) => r.properties.GCTI_Chat_AsyncStatus)
      .filter((s, i, a) => i === 0 || a[i - 1] !== s); // a crash backfill may repeat the current value
    assert.deepEqual(statuses, ["1", "2", "3", "5", "-1"]);
    const events = records.filter((r) => r.chatId === chatId && r.kind === "event").map((r) => r.event.index);
    assert.deepEqual(events, [...Array(seen.length + 1).keys()].map((i) => i + 1), "every event once, in order, in the feed");

    // Nothing was pushed twice meanwhile (the customer's own reply notifies nobody).
    assert.deepEqual((await pushes()).map((m) => m.body.data.event), ["IdleAlert", "AgentJoined", "Message"]);
  });
});
