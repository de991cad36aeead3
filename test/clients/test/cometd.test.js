// The stock CometD JavaScript client against the real chatgate binary, over websocket and over
// long-polling. Every scenario waits on events (never on elapsed time) and checks what went over
// the wire where the client would hide a server mistake (client-side wildcard dispatch).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer } from "../lib/server.js";
import { newClient } from "../lib/cometd-client.js";
import { SeverableProxy } from "../lib/proxy.js";
import { Inbox, waitFor } from "../lib/wait.js";
import { postBayeux, wsBayeux, uniq } from "../lib/raw.js";

const TRANSPORTS = ["long-polling", "websocket"];

for (const transport of TRANSPORTS) {
  describe(`cometd client over ${transport}`, () => {
    let server;
    const clients = [];
    const client = (opts = {}) => {
      const c = newClient(opts.url || server.cometdURL, { transport, ...opts });
      clients.push(c);
      return c;
    };
    const ready = async (opts) => {
      const c = client(opts);
      await c.handshake();
      await c.connected();
      return c;
    };

    before(async () => {
      server = await new ChatgateServer({ name: `chatgate-cometd-${transport}` }).start();
    });
    after(async () => {
      for (const c of clients) await c.disconnect().catch(() => {});
      await server.close();
    });

    it("handshakes and runs the connect loop on the chosen transport", async () => {
      const c = client();
      const reply = await c.handshake();
      assert.equal(reply.successful, true);
      assert.match(reply.clientId, /^[A-Za-z0-9_-]{16,}$/, "clientId looks unguessable");
      assert.equal(reply.version, "1.0");
      assert.ok(reply.supportedConnectionTypes.includes(transport),
        `server advertises ${transport}: ${reply.supportedConnectionTypes}`);
      const conn = await c.connected();
      assert.equal(conn.successful, true);
      assert.equal(c.cometd.getTransport().type, transport);
      // A second successful connect proves the held-connect loop cycles (the first one
      // returns at once by protocol).
      await c.connected(15000);
    });

    it("delivers a publish to a subscriber, not to the publisher, and acknowledges it", async () => {
      const ch = `/test/room/${uniq()}`;
      const sub = await ready();
      const pub = await ready();
      const got = new Inbox("sub");
      const pubGot = new Inbox("pub");
      await sub.subscribe(ch, (m) => got.push(m));
      pub.cometd.addListener(ch, (m) => pubGot.push(m));
      const reply = await pub.publish(ch, { text: "hello", n: 1 });
      assert.equal(reply.successful, true);
      const m = await got.next();
      assert.equal(m.channel, ch);
      assert.deepEqual(m.data, { text: "hello", n: 1 });
      assert.equal(m.clientId, undefined, "a broadcast must not leak the publisher's clientId");
      // Fence: a second message reaching the subscriber shows the first did not go to pub.
      await pub.publish(ch, { n: 2 });
      assert.equal((await got.next()).data.n, 2);
      assert.equal(pubGot.count(), 0, "publisher is not subscribed and must receive nothing");
    });

    it("matches wildcard subscriptions * (one segment) and ** (any depth) on the server", async () => {
      const base = `/test/${uniq("wc")}`;
      const one = await ready();
      const deep = await ready();
      const pub = await ready();
      const oneWire = new Inbox("one wire");
      const deepWire = new Inbox("deep wire");
      one.cometd.registerExtension("wiretap", { incoming: (m) => { oneWire.push(m); return m; } });
      deep.cometd.registerExtension("wiretap", { incoming: (m) => { deepWire.push(m); return m; } });
      const oneGot = new Inbox("one");
      const deepGot = new Inbox("deep");
      await one.subscribe(`${base}/*`, (m) => oneGot.push(m));
      await deep.subscribe(`${base}/**`, (m) => deepGot.push(m));

      await pub.publish(`${base}/a/b`, { n: 1 }); // only **
      await pub.publish(`${base}/a`, { n: 2 });   // both
      await pub.publish(`${base}`, { n: 3 });     // neither
      await pub.publish(`${base}/c`, { n: 4 });   // both

      const d = await deepGot.take(3);
      assert.deepEqual(d.map((m) => [m.channel, m.data.n]),
        [[`${base}/a/b`, 1], [`${base}/a`, 2], [`${base}/c`, 4]]);
      const o = await oneGot.take(2);
      assert.deepEqual(o.map((m) => [m.channel, m.data.n]), [[`${base}/a`, 2], [`${base}/c`, 4]]);
      // What the server actually sent: the deeper and the parent channel never reach "*".
      const sentToOne = oneWire.all.filter((m) => !m.channel.startsWith("/meta/"));
      assert.deepEqual(sentToOne.map((m) => m.data.n), [2, 4]);
      const sentToDeep = deepWire.all.filter((m) => !m.channel.startsWith("/meta/"));
      assert.deepEqual(sentToDeep.map((m) => m.data.n), [1, 2, 4]);
    });

    it("stops delivering after unsubscribe", async () => {
      const ch = `/test/${uniq("unsub")}`;
      const fence = `/test/${uniq("fence")}`;
      const c = await ready();
      const pub = await ready();
      const wire = new Inbox("wire");
      c.cometd.registerExtension("wiretap", { incoming: (m) => { wire.push(m); return m; } });
      const got = new Inbox("got");
      const s = await c.subscribe(ch, (m) => got.push(m));
      await c.subscribe(fence, (m) => got.push(m));
      await pub.publish(ch, { n: 1 });
      assert.equal((await got.next()).data.n, 1);
      const reply = await c.unsubscribe(s);
      assert.equal(reply.subscription, ch);
      await pub.publish(ch, { n: 2 });
      await pub.publish(fence, { n: 3 });
      const f = await got.next((m) => m.channel === fence);
      assert.equal(f.data.n, 3);
      assert.equal(wire.count((m) => m.channel === ch && m.data?.n === 2), 0,
        "the server sent a message on a channel after unsubscribe");
    });

    it("ends the session on disconnect; the old clientId then gets 402 with handshake advice", async () => {
      const c = await ready();
      const id = c.clientId;
      const reply = await c.disconnect();
      assert.equal(reply.successful, true);
      assert.equal(c.cometd.isDisconnected(), true);
      const msg = [{ channel: "/meta/connect", clientId: id, connectionType: transport, id: "1" }];
      const replies = transport === "websocket"
        ? await wsBayeux(server.cometdURL, msg)
        : await postBayeux(server.cometdURL, msg, { cookies: [...c.jar.values()] });
      const r = replies.find((m) => m.channel === "/meta/connect");
      assert.ok(r, `a /meta/connect reply: ${JSON.stringify(replies)}`);
      assert.equal(r.successful, false);
      assert.match(r.error, /^402:/);
      assert.equal(r.advice?.reconnect, "handshake");
    });

    it("processes a client batch in order as one request (subscribe then publishes)", async () => {
      const ch = `/test/${uniq("batch")}`;
      const c = await ready();
      const got = new Inbox("got");
      const replies = new Inbox("replies");
      c.cometd.batch(() => {
        c.cometd.subscribe(ch, (m) => got.push(m), (r) => replies.push(r));
        for (let n = 1; n <= 5; n++) c.cometd.publish(ch, { n }, (r) => replies.push(r));
      });
      const rs = await replies.take(6);
      assert.ok(rs.every((r) => r.successful), JSON.stringify(rs));
      // The subscribe was processed before the publishes of the same batch: the client gets
      // all five of its own messages, in order.
      const ms = await got.take(5);
      assert.deepEqual(ms.map((m) => m.data.n), [1, 2, 3, 4, 5]);
    });

    it("answers a remote call on a service channel (/service/echo)", async () => {
      const c = await ready();
      const reply = await c.remoteCall("echo", { ping: "pong", n: 42 });
      assert.deepEqual(reply.data, { ping: "pong", n: 42 });
      // A service channel publish is never broadcast: a /test/** subscriber hears nothing and
      // a subscription to /service/echo is a successful no-op.
      const other = await ready();
      const heard = new Inbox("other");
      await other.subscribe("/service/echo", (m) => heard.push(m));
      const reply2 = await c.remoteCall("echo", { n: 43 });
      assert.equal(reply2.data.n, 43);
      const fence = `/test/${uniq("fence")}`;
      await other.subscribe(fence, (m) => heard.push(m));
      await c.publish(fence, { fence: true });
      await heard.next((m) => m.channel === fence);
      assert.equal(heard.count((m) => m.channel === "/service/echo"), 0);
    });

    it("refuses publishes outside the allowed channels and subscriptions to /meta/**", async () => {
      const c = await ready();
      const denied = await c.publishReply(`/private/${uniq()}`, { x: 1 });
      assert.equal(denied.successful, false);
      assert.match(String(denied.error), /^403:/);
      await assert.rejects(c.subscribe("/meta/**", () => {}), /failed/);
    });
  });
}
