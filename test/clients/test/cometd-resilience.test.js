// What happens to CometD clients when the network or the server goes away: in-flight messages
// with and without the ack extension, server restart, and session expiry (402).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer, sessionsGauge } from "../lib/server.js";
import { newClient } from "../lib/cometd-client.js";
import { SeverableProxy } from "../lib/proxy.js";
import { Inbox, waitFor } from "../lib/wait.js";
import { uniq } from "../lib/raw.js";

const TRANSPORTS = ["long-polling", "websocket"];

// subscribeOnEveryHandshake is the documented CometD pattern: subscriptions are redone in the
// /meta/handshake listener, so they come back after any re-handshake.
function subscribeOnEveryHandshake(c, channel, onMessage) {
  const subscribed = new Inbox(`${c.cometd.getName()} subscribed`);
  c.cometd.addListener("/meta/handshake", (m) => {
    if (!m.successful) return;
    c.cometd.subscribe(channel, onMessage, (r) => subscribed.push({ ...r, clientId: c.clientId }));
  });
  return subscribed;
}

for (const transport of TRANSPORTS) {
  describe(`cometd ${transport}: a message in flight when the link dies`, () => {
    let server;
    const clients = [];
    const proxies = [];
    before(async () => {
      server = await new ChatgateServer({ name: `chatgate-ack-${transport}` }).start();
    });
    after(async () => {
      for (const c of clients) await c.disconnect().catch(() => {});
      for (const p of proxies) await p.close();
      await server.close();
    });

    // lose sends one message to `sub` while its link is a black hole (the server's write
    // succeeds, nothing arrives), then cuts the link for real and lets the client reconnect.
    // It returns the subscriber's inbox after a later message has come through.
    async function lose({ ack }) {
      const proxy = await SeverableProxy.start(server.addr);
      proxies.push(proxy);
      const ch = `/test/${uniq("ack")}`;
      const sub = newClient(`http://${proxy.addr}/genesys/cometd`, { transport, ack });
      const pub = newClient(server.cometdURL, { transport });
      clients.push(sub, pub);
      const hs = await sub.handshake();
      assert.equal(hs.ext?.ack === true || hs.ext?.ack?.enabled === true, ack,
        `server's handshake ext.ack ${JSON.stringify(hs.ext)}`);
      await sub.connected();
      let c2sAtConnect = Infinity;
      sub.onConnectSent = () => { c2sAtConnect = proxy.c2sBytes; };
      await pub.handshake();
      const got = new Inbox("sub");
      await sub.subscribe(ch, (m) => got.push(m));
      await pub.publish(ch, { n: 1 });
      assert.equal((await got.next()).data.n, 1);
      // Wait until the next connect (acknowledging the batch that carried n:1) has passed
      // the proxy and is held by the server, so the server answers it with n:2.
      await waitFor("a /meta/connect held by the server", () =>
        sub.connectsSent === sub.connectReplies + 1 && proxy.c2sBytes > c2sAtConnect,
      { timeout: 15000 });

      proxy.blackhole();
      const marker = `lost-${uniq()}`;
      await pub.publish(ch, { n: 2, marker });
      await waitFor("the server to write the message into the dead link",
        () => proxy.dropped.includes(marker), { timeout: 15000 });
      sub.meta.drain();
      proxy.sever();
      proxy.forward();
      // The client notices the dead connection, reconnects with its clientId, and the
      // session carries on; a later message proves the link works again.
      await sub.connected(20000);
      await pub.publish(ch, { n: 3 });
      await got.next((m) => m.data.n === 3, 20000, "n:3 after reconnect");
      return { got, marker };
    }

    it("with the ack extension the server redelivers it after reconnect, once, in order", async () => {
      const { got } = await lose({ ack: true });
      const ns = got.all.map((m) => m.data.n);
      assert.deepEqual(ns, [1, 2, 3], `received ${JSON.stringify(ns)}`);
    });

    it("without ack it is lost (control: shows the scenario really drops it)", async () => {
      const { got } = await lose({ ack: false });
      const ns = got.all.map((m) => m.data.n);
      assert.deepEqual(ns, [1, 3], `received ${JSON.stringify(ns)}`);
    });
  });

  describe(`cometd ${transport}: server restart`, () => {
    let server;
    const clients = [];
    before(async () => {
      server = await new ChatgateServer({ name: `chatgate-restart-${transport}` }).start();
    });
    after(async () => {
      for (const c of clients) await c.disconnect().catch(() => {});
      await server.close();
    });

    it("clients get 402, re-handshake, resubscribe and messages flow again", async () => {
      const ch = `/test/${uniq("restart")}`;
      const sub = newClient(server.cometdURL, { transport });
      const pub = newClient(server.cometdURL, { transport });
      clients.push(sub, pub);
      const got = new Inbox("sub");
      const subscribed = subscribeOnEveryHandshake(sub, ch, (m) => got.push(m));
      const first = await sub.handshake();
      await subscribed.next((r) => r.successful);
      await pub.handshake();
      await pub.publish(ch, { n: 1 });
      assert.equal((await got.next()).data.n, 1);

      await server.restart("SIGKILL");

      const again = await subscribed.next((r) => r.successful, 30000, "resubscription after restart");
      assert.notEqual(again.clientId, first.clientId, "a new session after restart");
      const refused = await sub.meta.next((m) => m.listener === "/meta/connect" && m.successful === false &&
        /^402:/.test(String(m.error)), 1000, "the 402 that made the client re-handshake");
      assert.equal(refused.advice?.reconnect, "handshake");
      // The publisher re-handshakes on its own when it next talks to the server.
      await waitFor("publisher to publish on the new server", async () => {
        try { await pub.publish(ch, { n: 2 }); return true; } catch { return false; }
      }, { timeout: 30000, every: 200 });
      const m = await got.next((x) => x.data.n === 2, 20000, "n:2 after restart");
      assert.equal(m.channel, ch);
    });
  });

  describe(`cometd ${transport}: session expiry (402)`, () => {
    let server;
    const clients = [];
    const proxies = [];
    before(async () => {
      server = await new ChatgateServer({
        name: `chatgate-expiry-${transport}`,
        bayeux: { timeout: "5s", maxInterval: "1s" },
      }).start();
    });
    after(async () => {
      for (const c of clients) await c.disconnect().catch(() => {});
      for (const p of proxies) await p.close();
      await server.close();
    });

    it("an expired session answers 402 with handshake advice; the client re-handshakes and carries on", async () => {
      const proxy = await SeverableProxy.start(server.addr);
      proxies.push(proxy);
      const ch = `/test/${uniq("expiry")}`;
      const sub = newClient(`http://${proxy.addr}/genesys/cometd`, { transport });
      clients.push(sub);
      const got = new Inbox("sub");
      const subscribed = subscribeOnEveryHandshake(sub, ch, (m) => got.push(m));
      const first = await sub.handshake();
      await subscribed.next((r) => r.successful);
      await sub.connected();
      await waitFor("the server to count the session", async () => (await sessionsGauge(server)) >= 1);

      proxy.refuse();
      proxy.sever();
      await waitFor("the server to expire the session", async () => (await sessionsGauge(server)) === 0,
        { timeout: 15000, every: 50 });
      proxy.forward();

      const refused = await sub.meta.next((m) => m.listener === "/meta/connect" && m.successful === false &&
        /^402:/.test(String(m.error)), 15000, "a 402 on /meta/connect");
      assert.equal(refused.advice?.reconnect, "handshake");
      const again = await subscribed.next((r) => r.successful, 15000, "resubscription");
      assert.notEqual(again.clientId, first.clientId);
      const pub = newClient(server.cometdURL, { transport });
      clients.push(pub);
      await pub.handshake();
      await pub.publish(ch, { n: 1 });
      assert.equal((await got.next()).data.n, 1);
    });
  });
}
