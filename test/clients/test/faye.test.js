// The stock Faye client against the real chatgate binary: long-polling only, and long-polling
// handshake followed by the websocket upgrade.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer, sessionsGauge } from "../lib/server.js";
import { newFayeClient } from "../lib/faye-client.js";
import { SeverableProxy } from "../lib/proxy.js";
import { Inbox, waitFor } from "../lib/wait.js";
import { postBayeux, uniq } from "../lib/raw.js";

for (const transport of ["long-polling", "websocket"]) {
  describe(`faye client over ${transport}`, () => {
    let server;
    const clients = [];
    const ready = async (url) => {
      const c = newFayeClient(url || server.cometdURL, { transport });
      clients.push(c);
      return c.connect();
    };
    before(async () => {
      server = await new ChatgateServer({ name: `chatgate-faye-${transport}` }).start();
    });
    after(async () => {
      for (const c of clients) await c.disconnect().catch(() => {});
      await server.close();
    });

    it("handshakes over long-polling and connects on the expected transport", async () => {
      const c = await ready();
      await c.wireIn.next((m) => m.channel === "/meta/connect" && m.successful, 15000,
        "a successful /meta/connect");
      const hs = c.wireIn.all.find((m) => m.channel === "/meta/handshake");
      assert.equal(hs.successful, true);
      assert.ok(hs.clientId);
      const hsOut = c.wireOut.all.find((m) => m.channel === "/meta/handshake");
      assert.ok(hsOut, "handshake sent");
      assert.equal(c.connectionType, transport);
      const connects = c.wireOut.all.filter((m) => m.channel === "/meta/connect");
      assert.ok(connects.every((m) => m.connectionType === transport || connects.indexOf(m) === 0),
        JSON.stringify(connects));
    });

    it("publishes and receives; the publisher gets the acknowledgement", async () => {
      const ch = `/test/${uniq("faye")}`;
      const sub = await ready();
      const pub = await ready();
      const got = new Inbox("sub");
      await sub.subscribe(ch, (d) => got.push(d));
      await pub.publish(ch, { text: "hi", n: 1 });
      assert.deepEqual(await got.next(), { text: "hi", n: 1 });
      const ack = pub.wireIn.all.find((m) => m.channel === ch && m.successful === true);
      assert.ok(ack, "publish reply");
    });

    it("publishes of one tick go out together and arrive in order", async () => {
      const ch = `/test/${uniq("fayebatch")}`;
      const sub = await ready();
      const pub = await ready();
      const got = new Inbox("sub");
      await sub.subscribe(ch, (d) => got.push(d));
      await Promise.all([1, 2, 3, 4, 5].map((n) => pub.publish(ch, { n })));
      const ms = await got.take(5);
      assert.deepEqual(ms.map((d) => d.n), [1, 2, 3, 4, 5]);
    });

    it("matches wildcards * and ** on the server", async () => {
      const base = `/test/${uniq("fwc")}`;
      const one = await ready();
      const deep = await ready();
      const pub = await ready();
      await one.subscribe(`${base}/*`, () => {});
      await deep.subscribe(`${base}/**`, () => {});
      await pub.publish(`${base}/a/b`, { n: 1 });
      await pub.publish(`${base}/a`, { n: 2 });
      await pub.publish(`${base}`, { n: 3 });
      await pub.publish(`${base}/c`, { n: 4 });
      const isData = (m) => m.channel.startsWith(base) && m.data;
      const d = await deep.wireIn.take(3, isData);
      assert.deepEqual(d.map((m) => m.data.n), [1, 2, 4]);
      const o = await one.wireIn.take(2, isData);
      assert.deepEqual(o.map((m) => m.data.n), [2, 4]);
      assert.equal(one.wireIn.count((m) => isData(m) && m.data.n !== 2 && m.data.n !== 4), 0);
    });

    it("stops delivering after unsubscribe", async () => {
      const ch = `/test/${uniq("funsub")}`;
      const fence = `/test/${uniq("ffence")}`;
      const c = await ready();
      const pub = await ready();
      const got = new Inbox("got");
      const s = await c.subscribe(ch, (d) => got.push(d));
      await c.subscribe(fence, (d) => got.push(d));
      await pub.publish(ch, { n: 1 });
      assert.equal((await got.next()).n, 1);
      s.subscription.cancel();
      const r = await c.wireIn.next((m) => m.channel === "/meta/unsubscribe", 10000, "unsubscribe reply");
      assert.equal(r.successful, true);
      await pub.publish(ch, { n: 2 });
      await pub.publish(fence, { n: 3 });
      assert.equal((await got.next()).n, 3);
      assert.equal(c.wireIn.count((m) => m.channel === ch && m.data?.n === 2), 0);
    });

    it("disconnects; the old clientId then gets 402 with handshake advice", async () => {
      const c = await ready();
      const id = c.clientId;
      await c.disconnect();
      const r = c.wireIn.all.find((m) => m.channel === "/meta/disconnect");
      assert.equal(r?.successful, true);
      const replies = await postBayeux(server.cometdURL,
        [{ channel: "/meta/connect", clientId: id, connectionType: "long-polling", id: "1" }]);
      const cr = replies.find((m) => m.channel === "/meta/connect");
      assert.equal(cr.successful, false);
      assert.match(cr.error, /^402:/);
      assert.equal(cr.advice?.reconnect, "handshake");
    });

    it("calls the echo service by publishing to /service/echo", async () => {
      const c = await ready();
      await c.publish("/service/echo", { ping: 1 });
      const r = await c.wireIn.next((m) => m.channel === "/service/echo" && m.data, 10000, "echo reply");
      assert.deepEqual(r.data, { ping: 1 });
    });
  });

  describe(`faye ${transport}: server restart and session expiry`, () => {
    let server;
    const clients = [];
    const proxies = [];
    before(async () => {
      server = await new ChatgateServer({
        name: `chatgate-faye-restart-${transport}`,
        bayeux: { timeout: "5s", maxInterval: "1s" },
      }).start();
    });
    after(async () => {
      for (const c of clients) await c.disconnect().catch(() => {});
      for (const p of proxies) await p.close();
      await server.close();
    });

    async function flows(pubURL, ch, got, n) {
      const pub = newFayeClient(pubURL, { transport });
      clients.push(pub);
      await pub.connect();
      await pub.publish(ch, { n });
      return got.next((d) => d.n === n, 20000, `n:${n}`);
    }

    it("after a restart Faye re-handshakes, resubscribes by itself and messages flow", async () => {
      const ch = `/test/${uniq("frestart")}`;
      const sub = newFayeClient(server.cometdURL, { transport });
      clients.push(sub);
      await sub.connect();
      const got = new Inbox("sub");
      await sub.subscribe(ch, (d) => got.push(d));
      const firstId = sub.clientId;
      await flows(server.cometdURL, ch, got, 1);

      sub.wireIn.drain();
      await server.restart("SIGKILL");

      await sub.wireIn.next((m) => m.channel === "/meta/subscribe" && m.successful && m.clientId !== firstId,
        30000, "resubscription after restart");
      assert.notEqual(sub.clientId, firstId);
      await flows(server.cometdURL, ch, got, 2);
    });

    it("an expired session gets 402 and Faye re-handshakes", async () => {
      const proxy = await SeverableProxy.start(server.addr);
      proxies.push(proxy);
      const ch = `/test/${uniq("fexpiry")}`;
      const sub = newFayeClient(`http://${proxy.addr}/genesys/cometd`, { transport });
      clients.push(sub);
      await sub.connect();
      const got = new Inbox("sub");
      await sub.subscribe(ch, (d) => got.push(d));
      const firstId = sub.clientId;
      const before = await sessionsGauge(server);
      sub.wireIn.drain();
      proxy.refuse();
      proxy.sever();
      await waitFor("the server to expire the session",
        async () => (await sessionsGauge(server)) <= before - 1, { timeout: 15000, every: 50 });
      proxy.forward();
      const refused = await sub.wireIn.next((m) => m.successful === false && /^402:/.test(String(m.error)),
        20000, "a 402 reply");
      assert.equal(refused.advice?.reconnect, "handshake");
      await sub.wireIn.next((m) => m.channel === "/meta/subscribe" && m.successful, 20000, "resubscribe");
      assert.notEqual(sub.clientId, firstId);
      await flows(server.cometdURL, ch, got, 1);
    });
  });
}
