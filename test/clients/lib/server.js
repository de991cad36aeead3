// Runs the real chatgate binary for the tests: spawns it on a loopback port with a temporary
// data directory, learns the bound address from its "listening" log line, and can kill and
// restart it on the same address and data.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor, withTimeout } from "./wait.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "..", "..", "..");

export function binaryPath() {
  const p = process.env.CHATGATE_BIN || path.join(repoRoot, "bin", "chatgate");
  if (!existsSync(p)) {
    throw new Error(`chatgate binary not found at ${p}: run "make build" ` +
      `(go build -o bin/chatgate ./cmd/chatgate) at the repo root, or set CHATGATE_BIN`);
  }
  return p;
}

// The options every test server gets. Short timeouts keep the suite fast; the expiry test
// relies on maxInterval being short. Publishing from clients is allowed on /test/**.
export const defaultEnv = {
  CHATGATE_CLIENT_PUBLISH_CHANNELS: "/test/**,/bench/**",
};

// The test echo service (/service/echo) is always on for tests.
export const testArgs = ["--bayeux-test-echo"];

// bayeuxArgs maps test-level Bayeux settings to the binary's flags.
// The held-connect timeout is short (CometD default 30 s) so that a test can see the connect
// loop cycle; tests that need other values pass them.
export function bayeuxArgs({ timeout = "4s", maxInterval } = {}) {
  const a = [...testArgs];
  if (timeout) a.push("--bayeux-timeout", timeout);
  if (maxInterval) a.push("--bayeux-max-interval", maxInterval);
  return a;
}

// sessionsGauge reads the number of live Bayeux sessions from /metrics.
export async function sessionsGauge(server) {
  const m = await server.metrics();
  for (const name of SESSION_GAUGES) {
    if (m.has(name)) return m.get(name);
  }
  throw new Error(`no Bayeux sessions gauge among ${SESSION_GAUGES} in /metrics`);
}
export const SESSION_GAUGES = ["chatgate_bayeux_sessions", "bayeux_sessions"];

// parseListening extracts host:port from a slog line (text or JSON) announcing the listener.
export function parseListening(line) {
  if (!/listening/.test(line)) return null;
  let addr = null;
  const j = line.match(/"addr"\s*:\s*"([^"]+)"/);
  if (j) addr = j[1];
  else {
    const t = line.match(/\baddr="?([^\s"]+)"?/);
    if (t) addr = t[1];
  }
  if (!addr) return null;
  if (!/:\d+$/.test(addr) || /:0$/.test(addr)) return null;
  return addr.replace(/^\[::\]|^0\.0\.0\.0/, "127.0.0.1");
}

export class ChatgateServer {
  constructor({ args = [], env = {}, name = "chatgate", bayeux = {} } = {}) {
    this.extraArgs = [...bayeuxArgs(bayeux), ...args];
    this.env = { ...defaultEnv, ...env };
    this.name = name;
    this.dataDir = mkdtempSync(path.join(tmpdir(), "chatgate-e2e-"));
    this.addr = null;
    this.proc = null;
    this.log = [];
    this.exits = 0;
  }

  get httpURL() { return `http://${this.addr}`; }
  get cometdURL() { return `http://${this.addr}/genesys/cometd`; }

  // start launches the binary (on addr if given, else on a free port) and waits until it
  // announces its listener.
  async start(addr = this.addr || "127.0.0.1:0") {
    const bin = binaryPath();
    const args = ["--addr", addr, "--data", this.dataDir, ...this.extraArgs];
    const proc = spawn(bin, args, {
      env: { ...process.env, ...this.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    let announced = null;
    let exited = null;
    proc.on("exit", (code, signal) => { exited = { code, signal }; this.exits++; });
    const onData = (buf) => {
      for (const line of buf.toString().split("\n")) {
        if (!line) continue;
        this.log.push(line);
        if (this.log.length > 2000) this.log.splice(0, 1000);
        if (process.env.CHATGATE_E2E_VERBOSE) process.stderr.write(`[${this.name}] ${line}\n`);
        const a = parseListening(line);
        if (a && !announced) announced = a;
      }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    await waitFor(`${this.name} to log msg=listening`, () => {
      if (exited) {
        throw new Error(`${this.name} exited early (${JSON.stringify(exited)}); log tail:\n` +
          this.log.slice(-30).join("\n"));
      }
      return announced;
    }, { timeout: 20000, every: 20 }).catch((err) => {
      proc.kill("SIGKILL");
      throw new Error(`${err.message}\nlog tail:\n${this.log.slice(-30).join("\n")}`);
    });
    this.addr = announced;
    await waitFor(`${this.name} /healthz`, async () => {
      const r = await fetch(`${this.httpURL}/healthz`).catch(() => null);
      return r && r.status === 200;
    }, { timeout: 10000 });
    return this;
  }

  // kill stops the process abruptly (SIGKILL) or gracefully (SIGTERM) and waits for its exit.
  async stop(signal = "SIGTERM") {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise((r) => proc.once("exit", r));
    proc.kill(signal);
    await withTimeout(`${this.name} to exit after ${signal}`, done, 15000).catch(async (err) => {
      proc.kill("SIGKILL");
      await done;
      throw err;
    });
  }

  // restart kills the server and starts it again on the same address and data directory.
  async restart(signal = "SIGKILL") {
    const addr = this.addr;
    await this.stop(signal);
    await this.start(addr);
  }

  async metrics() {
    const r = await fetch(`${this.httpURL}/metrics`);
    if (r.status !== 200) throw new Error(`/metrics: HTTP ${r.status}`);
    return parseMetrics(await r.text());
  }

  logTail(n = 40) { return this.log.slice(-n).join("\n"); }

  async close() {
    await this.stop("SIGTERM").catch(() => {});
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

// parseMetrics reads the Prometheus text format into name{labels} → value.
export function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([^\s{]+(?:\{[^}]*\})?)\s+(\S+)/);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}
