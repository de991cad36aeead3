// Hand-written Bayeux requests, for the checks the stock clients cannot express (what the server
// answers to a clientId it should have forgotten).

import WebSocket from "ws";
import { withTimeout } from "./wait.js";

// postBayeux sends one long-polling request and returns the parsed reply array.
export async function postBayeux(url, messages, { cookies = [] } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (cookies.length) headers.Cookie = cookies.join("; ");
  const suffix = messages[0]?.channel?.startsWith("/meta/") ? messages[0].channel.slice(6) : "";
  const r = await withTimeout(`POST ${url}/${suffix}`,
    fetch(`${url}/${suffix}`, { method: "POST", headers, body: JSON.stringify(messages) }), 15000);
  const text = await r.text();
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${text}`);
  return JSON.parse(text);
}

// wsBayeux opens a websocket, sends messages, and resolves with the first reply array.
export function wsBayeux(url, messages) {
  const ws = new WebSocket(url.replace(/^http/, "ws"));
  return withTimeout(`websocket exchange with ${url}`, new Promise((resolve, reject) => {
    ws.on("open", () => ws.send(JSON.stringify(messages)));
    ws.on("message", (data) => { resolve(JSON.parse(data.toString())); ws.close(); });
    ws.on("error", reject);
  }), 15000).finally(() => ws.terminate());
}

let n = 0;
// uniq returns a channel-safe unique token for one test.
export function uniq(prefix = "t") {
  return `${prefix}${process.pid}x${Date.now().toString(36)}x${++n}`;
}
