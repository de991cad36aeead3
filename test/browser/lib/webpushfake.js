// bin/webpushfake (push/pushtest's local Web Push service as a process): its URLs, its
// certificate file (for chatgate's SSL_CERT_FILE), subscriptions and the pushes it
// accepted, each decrypted and with the application server key whose VAPID signature it
// verified.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { repoRoot } from "../../clients/lib/server.js";
import { withTimeout } from "../../clients/lib/wait.js";

// startFake runs bin/webpushfake (certificate written into dir) and returns its URLs,
// subscription(applicationServerKey?), messages() and stop(). A subscription made with a
// key accepts only pushes signed with that key, as a real push service does.
export async function startFake(dir) {
  const bin = process.env.WEBPUSHFAKE_BIN || path.join(repoRoot, "bin", "webpushfake");
  if (!existsSync(bin)) throw new Error(`${bin} not found: go build -o bin/webpushfake ./test/webpushfake (make browser-test does)`);
  const cert = path.join(dir, "webpush-ca.pem");
  const proc = spawn(bin, ["-cert", cert], { stdio: ["pipe", "pipe", "inherit"] });
  const line = await withTimeout("webpushfake's address line", new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout }).once("line", resolve);
    proc.once("exit", (c) => reject(new Error(`webpushfake exited with ${c}`)));
  }), 15000);
  const urls = JSON.parse(line);
  return {
    ...urls, cert,
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
    async messages() {
      return (await fetch(`${urls.control}/messages`)).json();
    },
    async stop() {
      const done = new Promise((r) => proc.once("exit", r));
      proc.stdin.end(); // it exits when stdin closes
      await withTimeout("webpushfake to exit", done, 10000);
    },
  };
}
