// The other side of a chat through chatgate's agent API (/agent/v1, web/agentapi): an
// account made with the admin token, logged in, ready, taking routed offers and acting in
// chats.

import assert from "node:assert/strict";
import { SVC } from "./chat.js";
import { waitFor } from "../../clients/lib/wait.js";
import { jsonRequest } from "../../clients/lib/http.js";

export function agentAPI(server, adminToken) {
  const http = (method, path, token, body) => jsonRequest(server.httpURL, method, path, token, body);
  // party creates an account, logs it in and returns ready(), act(chatId, action, body)
  // and accept(chatId).
  const party = async (id, spec) => {
    const made = await http("PUT", `/admin/accounts/${id}`, adminToken, { queues: [SVC], capacity: 3, password: `${id}-password-1`, ...spec });
    assert.equal(made.status, 200, JSON.stringify(made.json));
    const login = await fetch(`${server.httpURL}/agent/v1/login`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ id, password: `${id}-password-1` }),
    }).then((r) => r.json());
    assert.ok(login.token, JSON.stringify(login));
    return {
      async ready() {
        const r = await http("PUT", "/agent/v1/me/state", login.token, { state: "ready" });
        assert.equal(r.status, 200, JSON.stringify(r.json));
      },
      async state(state) {
        const r = await http("PUT", "/agent/v1/me/state", login.token, { state });
        assert.equal(r.status, 200, JSON.stringify(r.json));
      },
      async act(chatId, action, body = {}) {
        const r = await http("POST", `/agent/v1/chats/${chatId}/${action}`, login.token, body);
        assert.equal(r.status, 200, `${id} ${action}: ${JSON.stringify(r.json)}`);
        return r.json;
      },
      // accept takes the chat once routing has offered it (an accept before the offer is
      // refused and changes nothing).
      async accept(chatId) {
        return waitFor(`${id}'s offer of ${chatId}`, async () => {
          const r = await http("POST", `/agent/v1/chats/${chatId}/accept`, login.token, {});
          return r.status === 200 && r.json;
        }, { timeout: 15000, every: 100 });
      },
    };
  };
  return { http, party };
}
