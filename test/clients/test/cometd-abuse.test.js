// The stock CometD client against chatgate's abuse limits: a client that sends no cookie (the
// Genesys widget's long-polling XHRs go without credentials) must connect and stay connected,
// and a handshake refused by the per-address rate limit must make the client wait as advised
// and handshake again, not hammer the server.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer } from "../lib/server.js";
import { newClient } from "../lib/cometd-client.js";
import { postBayeux } from "../lib/raw.js";

const handshakeMsg = { channel: "/meta/handshake", version: "1.0", supportedConnectionTypes: ["long-polling"] };

describe("cometd client over long-polling without cookies (withCredentials=false)", () => {
  let server;
  const clients = [];
  before(async () => {
    server = await new ChatgateServer({ name: "chatgate-nocookie" }).start();
  });
  after(async () => {
    for (const c of clients) await c.disconnect().catch(() => {});
    await server.close();
  });

  it("handshakes once, keeps the connect loop running and calls services", async () => {
    const c = newClient(server.cometdURL, { transport: "long-polling", credentials: false });
    clients.push(c);
    await c.handshake();
    await c.connected();
    // A second successful connect: the held connect cycled without a cookie.
    await c.connected(15000);
    const reply = await c.remoteCall("echo", { n: 7 });
    assert.deepEqual(reply.data, { n: 7 });
    assert.equal(c.jar.size, 0, "the client kept no cookie");
    const handshakes = c.meta.all.filter((m) => m.listener === "/meta/handshake");
    assert.equal(handshakes.length, 1, `one handshake, no 402 loop: ${JSON.stringify(handshakes)}`);
    assert.equal(c.meta.all.filter((m) => m.listener === "/meta/unsuccessful").length, 0);
  });
});

describe("cometd client refused by the handshake rate limit", () => {
  let server;
  const clients = [];
  before(async () => {
    server = await new ChatgateServer({
      name: "chatgate-hsrate",
      args: ["--bayeux-handshake-burst", "2", "--bayeux-handshakes-per-minute", "30"],
    }).start();
  });
  after(async () => {
    for (const c of clients) await c.disconnect().catch(() => {});
    await server.close();
  });

  it("waits the advised interval, handshakes again and connects", async () => {
    // Use up this address's burst.
    for (let i = 0; i < 2; i++) {
      const [r] = await postBayeux(server.cometdURL, [handshakeMsg]);
      assert.equal(r.successful, true, JSON.stringify(r));
    }
    const c = newClient(server.cometdURL, { transport: "long-polling" });
    clients.push(c);
    const attempts = [];
    c.cometd.addListener("/meta/handshake", (m) => attempts.push({ at: Date.now(), m }));
    c.cometd.handshake();
    await c.connected(20000);
    assert.ok(attempts.length >= 2, `refused then accepted: ${JSON.stringify(attempts)}`);
    const refused = attempts[0].m;
    assert.equal(refused.successful, false);
    assert.match(String(refused.error), /^429::/);
    assert.equal(refused.advice.reconnect, "handshake");
    assert.ok(refused.advice.interval >= 1000, `interval ${refused.advice.interval}`);
    assert.equal(attempts.at(-1).m.successful, true);
    // Every retry came at least the advised interval after the refusal before it.
    for (let i = 1; i < attempts.length; i++) {
      const prev = attempts[i - 1];
      if (prev.m.successful) continue;
      const gap = attempts[i].at - prev.at;
      assert.ok(gap >= prev.m.advice.interval - 50, `retry ${i} after ${gap} ms, advised ${prev.m.advice.interval}`);
    }
  });
});
