// The admin console's "Services" section: the chat options of each service, live (the live
// chat options API under /admin/options, web/chatoptions). It lists the services, shows
// every option's effective value and where it comes from (built-in default, config file, or
// an override set here), and saves edits as overrides. The server validates (the same code
// that reads the config file); its message for each refused option is shown next to the
// field (aria-describedby, aria-invalid) and nothing changes.

import { APIError } from "./api.js";
import { h, $, say } from "./dom.js";
import { ended } from "./session.js";

const BASE = "/admin/options";
// The sections in the order the page shows them, with a heading each.
const SECTIONS = [
  ["settings", "Settings [settings]"],
  ["inactivity-control", "Inactivity control [inactivity-control]"],
  ["client-file-transfer", "File transfer [client-file-transfer]"],
  ["routing", "Routing (queue and service mapping)"],
];

let send = null; // (method, path, body) → Promise of the JSON answer, with the admin's credentials
let view = null; // the shown scope's view from the server
let scope = ""; // "" = the defaults, else a service name
let wired = false;

// bootServices wires the section (once) and loads the service list; c is the admin console's
// authenticated API call (admin.js calls it once the admin is in).
export async function bootServices(c) {
  send = c;
  if (!wired) {
    wired = true;
    $("svc-pick").addEventListener("change", () => open($("svc-pick").value));
    $("svc-open-form").addEventListener("submit", onOpenOther);
    $("svc-form").addEventListener("submit", onSave);
    $("svc-drop").addEventListener("click", onDropAll);
  }
  await loadList();
}

const path = (s) => (s === "" ? `${BASE}/defaults` : `${BASE}/services/${encodeURIComponent(s)}`);

// call is send; a 401 means the session is gone: back to the login view.
async function call(method, p, body) {
  try {
    return await send(method, p, body);
  } catch (err) {
    if (err instanceof APIError && err.status === 401) ended();
    throw err;
  }
}

async function loadList() {
  try {
    const r = await call("GET", `${BASE}/services`);
    const pick = $("svc-pick");
    const names = (r.services || []).map((s) => s.name);
    if (scope && !names.includes(scope)) names.push(scope);
    pick.replaceChildren(h("option", { value: "" }, "All services (defaults)"),
      ...names.sort().map((n) => h("option", { value: n }, n)));
    pick.value = scope;
    await open(scope);
  } catch (err) {
    say($("svc-status"), err.message, true);
  }
}

async function onOpenOther(e) {
  e.preventDefault();
  const name = $("svc-other").value.trim();
  if (!name) {
    say($("svc-status"), "Enter a service name.", true);
    $("svc-other").focus();
    return;
  }
  $("svc-other").value = "";
  scope = name;
  await loadList();
  $("svc-pick").focus();
}

async function open(s) {
  scope = s;
  try {
    view = await call("GET", path(s));
    render();
    say($("svc-status"), "");
  } catch (err) {
    say($("svc-status"), err.message, true);
  }
}

const fieldId = (sec, opt) => `opt-${sec}-${opt}`;

function sourceText(v) {
  if (v.source === "override") return `override (${v.from})`;
  if (v.source === "file") return `config file (${v.from})`;
  return "default";
}

// render draws one fieldset per section, one field per option, from view.
function render() {
  $("svc-title").textContent = scope === "" ? "All services (defaults)" : `Service ${scope}`;
  const sets = SECTIONS.filter(([sec]) => view.sections[sec]).map(([sec, title]) => {
    const opts = Object.keys(view.sections[sec]).sort();
    return h("fieldset", { class: "opts" }, h("legend", {}, title), ...opts.map((opt) => field(sec, opt, view.sections[sec][opt])));
  });
  $("svc-fields").replaceChildren(...sets);
  $("svc-drop").hidden = Object.keys(view.overrides || {}).length === 0;
}

function field(sec, opt, v) {
  const id = fieldId(sec, opt);
  const attrs = { id, name: `${sec}.${opt}`, "data-section": sec, "data-option": opt, "data-orig": v.value, "aria-describedby": `${id}-src ${id}-err` };
  let input;
  if (v.value === "true" || v.value === "false") {
    input = h("select", attrs, h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
    input.value = v.value;
  } else {
    input = h("input", { ...attrs, value: v.value, autocomplete: "off", spellcheck: "false" });
  }
  const overridden = v.source === "override" && v.from === view.scope;
  return h("div", { class: "opt" },
    h("label", { for: id }, opt),
    input,
    h("span", { class: `src src-${v.source}`, id: `${id}-src` }, sourceText(v)),
    overridden ? h("button", { type: "button", class: "link", "aria-label": `Reset ${opt} to the inherited value`, onclick: () => resetOne(sec, opt) }, "Reset") : null,
    h("span", { class: "opt-error error", id: `${id}-err` }));
}

// changes are the scope's overrides after the edits: the overrides it has, plus every field
// whose value differs from the effective one shown.
function changes() {
  const out = {};
  for (const [sec, opts] of Object.entries(view.overrides || {})) out[sec] = { ...opts };
  let edited = 0;
  for (const el of $("svc-fields").querySelectorAll("[data-option]")) {
    if (el.value === el.dataset.orig) continue;
    (out[el.dataset.section] ||= {})[el.dataset.option] = el.value;
    edited++;
  }
  return { out, edited };
}

function clearErrors() {
  for (const el of $("svc-fields").querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of $("svc-fields").querySelectorAll(".opt-error")) el.textContent = "";
}

// showProblems puts the server's message for each refused option next to its field.
function showProblems(err) {
  const problems = (err.body && err.body.problems) || [];
  let first = null;
  for (const p of problems) {
    const el = p.option && $(fieldId(p.section, p.option));
    if (!el) continue;
    el.setAttribute("aria-invalid", "true");
    $(`${el.id}-err`).textContent = p.message;
    first ||= el;
  }
  say($("svc-status"), `Not saved: ${err.message}`, true);
  (first || $("svc-status")).focus?.();
}

async function put(body, done) {
  clearErrors();
  try {
    view = Object.keys(body).length === 0 ? await call("DELETE", path(scope)) : await call("PUT", path(scope), body);
    render();
    say($("svc-status"), done);
    return true;
  } catch (err) {
    if (err instanceof APIError && err.status === 400) showProblems(err);
    else say($("svc-status"), err.message, true);
    return false;
  }
}

async function onSave(e) {
  e.preventDefault();
  const { out, edited } = changes();
  if (edited === 0) {
    say($("svc-status"), "Nothing changed.");
    return;
  }
  await put(out, `Saved ${edited} ${edited === 1 ? "option" : "options"} for ${scope || "all services"}; running chats use them now.`);
}

async function resetOne(sec, opt) {
  const body = {};
  for (const [s, opts] of Object.entries(view.overrides || {})) {
    const rest = { ...opts };
    if (s === sec) delete rest[opt];
    if (Object.keys(rest).length) body[s] = rest;
  }
  if (await put(body, `${opt} is back to the inherited value.`)) $("svc-pick").focus();
}

async function onDropAll() {
  if (await put({}, `Dropped every override of ${scope || "all services"}.`)) $("svc-pick").focus();
}
