// The local Web Push service (bin/webpushfake, push/pushtest's fake run as a process): an
// RFC 8030 endpoint over TLS that accepts a push only with a valid VAPID authorization (ES256
// JWT, aud = its origin, exp within 24 h, sub mailto:/https:, k = the application server
// key; with `vapid` set, only that key) and decrypts the RFC 8291 aes128gcm body with the
// subscription's private key, as a browser would. chatgate trusts its certificate through
// SSL_CERT_FILE=<cert>.

import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { createInterface } from "node:readline";
import { repoRoot } from "./server.js";
import { withTimeout } from "./wait.js";

// startWebPushFake runs the fake, writing its certificate into dir. vapid (base64url public
// key) makes it refuse every other application server key.
export async function startWebPushFake(dir, { vapid } = {}) {
  const bin = process.env.WEBPUSHFAKE_BIN || path.join(repoRoot, "bin", "webpushfake");
  if (!existsSync(bin)) throw new Error(`${bin} not found: go build -o bin/webpushfake ./test/webpushfake (make node-test and make browser-test do)`);
  const cert = path.join(dir, "webpush-ca.pem");
  const args = ["-cert", cert];
  if (vapid) args.push("-vapid", vapid);
  const proc = spawn(bin, args, { stdio: ["pipe", "pipe", "inherit"] });
  const line = await withTimeout("webpushfake's address line", new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout }).once("line", resolve);
    proc.once("exit", (c) => reject(new Error(`webpushfake exited with ${c}`)));
  }), 15000);
  const urls = JSON.parse(line);
  return {
    ...urls, cert,
    // subscription: a new browser-side subscription in PushSubscription.toJSON() form. With
    // applicationServerKey (base64url) it is bound to that key, as a real push service binds
    // the key the browser subscribed with: a push signed with another key is refused (403).
    async subscription(applicationServerKey) {
      const init = { method: "POST" };
      if (applicationServerKey) {
        init.headers = { "Content-Type": "application/json" };
        init.body = JSON.stringify({ applicationServerKey });
      }
      const r = await fetch(`${urls.control}/subscriptions`, init);
      if (!r.ok) throw new Error(`webpushfake subscription: ${r.status} ${await r.text()}`);
      return r.json();
    },
    // messages: every push it accepted, decrypted ({subscription, payload, ttl, urgency, topic,
    // subject, vapidKey}; vapidKey: the application server key whose signature it verified).
    async messages() {
      return (await fetch(`${urls.control}/messages`)).json();
    },
    // post sends a raw request to a push endpoint (trusting the fake's certificate), for
    // checks of what the fake refuses; resolves with the HTTP status.
    post(endpoint, headers = {}, body = "") {
      return withTimeout(`POST ${endpoint}`, new Promise((resolve, reject) => {
        const req = https.request(endpoint, { method: "POST", ca: readFileSync(cert), headers }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode));
        });
        req.on("error", reject);
        req.end(body);
      }));
    },
    async stop() {
      if (proc.exitCode !== null) return;
      const done = new Promise((r) => proc.once("exit", r));
      proc.stdin.end(); // it exits when stdin closes
      await withTimeout("webpushfake to exit", done, 10000);
    },
  };
}
