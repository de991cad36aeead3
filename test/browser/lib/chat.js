// Test helpers around a page that embeds the widget: the chat's stored credentials, the GMS
// REST API for the other side of the chat, and the checks most tests share.

import assert from "node:assert/strict";
import { waitFor } from "../../clients/lib/wait.js";
import { w } from "./browser.js";

export const SVC = "customer-support";

// session reads the widget's stored chat (chatId, secureKey, lastIndex, events) from the
// page's localStorage, as the widget wrote it.
export async function session(page, service = null) {
  return page.evaluate((svc) => {
    const k = Object.keys(localStorage).find((x) => x.startsWith("chatgate:v1:") && (!svc || x.endsWith(`:${svc}`)));
    return k ? JSON.parse(localStorage.getItem(k)) : null;
  }, service);
}

// rest posts one GMS Chat API v2 REST operation and returns the JSON answer.
export async function rest(server, service, tail, fields) {
  const r = await fetch(`${server.httpURL}/genesys/2/chat/${service}${tail}`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields),
  });
  return r.json();
}

// The other side of the conversation. chatgate has no agent API yet (issue 9), and the GMS
// API lets only the chat's own customer act in a chat, so the stand-in is that customer on a
// second device: it speaks the REST API with the chat's credentials. Its messages reach the
// widget over CometD exactly like an agent's would (a live push of a committed event), but
// they are the customer's own (from.type Client), so the widget shows them as "You". When
// the agent API exists, say() should post as an agent instead.
export function otherSide(server, service = SVC) {
  return {
    async say(s, text) {
      const r = await rest(server, service, `/${s.chatId}/send`, { secureKey: s.secureKey, message: text, transcriptPosition: "0" });
      assert.equal(r.statusCode, 0, `REST send: ${JSON.stringify(r)}`);
    },
    async transcript(s) {
      const r = await rest(server, service, `/${s.chatId}/refresh`, { secureKey: s.secureKey, transcriptPosition: "1" });
      assert.equal(r.statusCode, 0, `REST refresh: ${JSON.stringify(r)}`);
      return r;
    },
  };
}

// startChat opens the widget, fills the pre-chat form and waits for the chat to start.
export async function startChat(page, { name = "Ann", email, subject, service = null } = {}) {
  if ((await w(page, ".panel").getAttribute("hidden")) !== null) await w(page, ".launcher").click();
  await w(page, "input[name=nickname]").fill(name);
  if (email) await w(page, "input[name=email]").fill(email);
  if (subject) await w(page, "textarea[name=subject]").fill(subject);
  await w(page, "form.prechat button[type=submit]").click();
  await w(page, "textarea.msg-input").waitFor({ state: "visible", timeout: 15000 });
  return waitFor("the stored chat", () => session(page, service));
}

// type sends a message through the composer (Enter).
export async function type(page, text) {
  const input = w(page, "textarea.msg-input");
  await input.fill(text);
  await input.press("Enter");
}

// items returns what the transcript shows: kind, index, state and text of every item.
export async function items(page) {
  return page.evaluate(() => {
    const root = document.querySelector("chatgate-widget").shadowRoot;
    return [...root.querySelectorAll(".log .item")].map((e) => ({
      kind: e.dataset.kind, index: e.dataset.index ? Number(e.dataset.index) : null, state: e.dataset.state || null,
      text: (e.querySelector(".bubble") || e).textContent,
    }));
  });
}

// waitItem waits for a transcript item whose bubble text is text (and, if given, state).
export async function waitItem(page, text, { state, timeout = 15000 } = {}) {
  return waitFor(`transcript item ${JSON.stringify(text)}${state ? ` (${state})` : ""}`, async () => {
    const all = await items(page);
    return all.find((i) => i.text === text && (!state || i.state === state));
  }, { timeout, every: 50 });
}

// assertNoDuplicates checks that every transcript index is shown at most once.
export function assertNoDuplicates(list) {
  const idx = list.map((i) => i.index).filter((i) => i !== null);
  assert.deepEqual(idx, [...new Set(idx)], `an event is shown twice: ${JSON.stringify(list)}`);
}
