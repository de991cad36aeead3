// The admin console's audit log section (GET /admin/audit, docs/operations.md "Audit log"):
// the admin changes newest first, who made them, what they were and the server's answer,
// with a button for older pages. Its own module and section of admin.html: admin.js only
// boots it. Read only; the log itself never holds a secret.

import { h, $, say } from "./dom.js";

const BASE = "/admin/audit";

let call = null; // (method, path, body) → Promise of the JSON answer, with the admin's session
let next = 0; // before= of the next older page, 0 when there is none
let wired = false;

// bootAudit wires the section (once) and reads the newest page.
export async function bootAudit(c) {
  call = c;
  if (!wired) {
    wired = true;
    $("audit-refresh").addEventListener("click", () => load(false));
    $("audit-more").addEventListener("click", () => load(true));
  }
  await load(false);
}

function who(a) {
  const via = { token: "admin token", basic: "admin user", console: "admin console" }[a.via] || a.via;
  return `${a.id} (${via}${a.session ? ` ${a.session}` : ""})`;
}

function row(e) {
  const when = new Date(e.time);
  return h("tr", { "data-seq": e.seq },
    h("td", {}, h("time", { datetime: e.time }, when.toLocaleString())),
    h("td", {}, who(e.actor || {})),
    h("td", {}, `${e.method} ${e.route || e.path}`, e.route && e.route !== e.path ? h("div", { class: "muted" }, e.path) : null),
    h("td", {}, [e.resource, e.summary].filter(Boolean).join(": ")),
    h("td", { class: e.status >= 400 ? "error" : "" }, String(e.status)));
}

async function load(older) {
  const out = $("audit-status");
  try {
    const r = await call("GET", older && next ? `${BASE}?before=${next}` : BASE);
    const rows = (r.entries || []).map(row);
    if (older) $("audit").append(...rows);
    else $("audit").replaceChildren(...rows);
    next = r.next || 0;
    $("audit-more").hidden = !next;
    $("audit-empty").hidden = $("audit").children.length > 0;
    say(out, "");
  } catch (e) {
    say(out, e.message, true);
  }
}
