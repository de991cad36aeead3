// The admin console's standard responses section (/admin/responses, docs/consoles.md): list,
// create, edit and delete the canned responses agents insert with a shortcut or the picker.
// Its own module and its own section of admin.html: admin.js only imports it and calls
// bootResponses once the admin is in. The server validates every field (the form's
// maxlength attributes only mirror its limits) and its message is shown as it is.

import { h, $, say } from "./dom.js";

const BASE = "/admin/responses/";

let call = null; // (method, path, body) → Promise of the JSON answer, with the admin's credentials
let editing = null; // id of the response in the form, or null for a new one
let wired = false;

// bootResponses wires the section (once) and lists the responses; call is the admin
// console's authenticated API call. Errors stay in the section's status line.
export async function bootResponses(c) {
  call = c;
  if (!wired) {
    wired = true;
    $("response-form").addEventListener("submit", onSave);
    $("resp-cancel").addEventListener("click", () => {
      reset();
      $("resp-name").focus();
    });
  }
  try {
    await refresh();
  } catch (e) {
    failed(e);
  }
}

function failed(e) {
  say($("response-status"), e.status === 401 ? "Your session ended. Please log in again." : e.message, true);
}

const list = (v) => v.split(",").map((x) => x.trim()).filter(Boolean);

function scope(r) {
  const parts = [];
  if ((r.services || []).length) parts.push(`services ${r.services.join(", ")}`);
  if ((r.queues || []).length) parts.push(`queues ${r.queues.join(", ")}`);
  return parts.join("; ") || "everyone";
}

async function refresh() {
  const r = await call("GET", BASE);
  const rows = r.responses || [];
  $("responses").replaceChildren(...rows.map((x) => h("tr", { "data-id": x.id },
    h("td", {}, x.name),
    h("td", {}, x.shortcut ? h("kbd", {}, x.shortcut) : ""),
    h("td", { class: "resp-text" }, x.text),
    h("td", {}, scope(x)),
    h("td", {}, h("div", { class: "row" },
      h("button", { type: "button", "aria-label": `Edit ${x.name}`, onclick: () => edit(x) }, "Edit"),
      h("button", { type: "button", class: "danger", "aria-label": `Delete ${x.name}`, onclick: (e) => onDelete(e.currentTarget, x) }, "Delete"))))));
  $("responses-empty").hidden = rows.length > 0;
}

function edit(x) {
  editing = x.id;
  $("resp-name").value = x.name;
  $("resp-shortcut").value = x.shortcut || "";
  $("resp-text").value = x.text;
  $("resp-services").value = (x.services || []).join(", ");
  $("resp-queues").value = (x.queues || []).join(", ");
  $("response-form-h").textContent = `Edit “${x.name}”`;
  $("resp-save").textContent = "Save changes";
  $("resp-cancel").hidden = false;
  say($("response-status"), "");
  $("resp-name").focus();
}

function reset() {
  editing = null;
  for (const id of ["resp-name", "resp-shortcut", "resp-text", "resp-services", "resp-queues"]) $(id).value = "";
  $("response-form-h").textContent = "New standard response";
  $("resp-save").textContent = "Create";
  $("resp-cancel").hidden = true;
}

async function onSave(e) {
  e.preventDefault();
  const out = $("response-status");
  const body = {
    name: $("resp-name").value,
    text: $("resp-text").value,
    services: list($("resp-services").value),
    queues: list($("resp-queues").value),
  };
  const sc = $("resp-shortcut").value.trim();
  if (sc) body.shortcut = sc;
  try {
    const saved = editing
      ? await call("PUT", BASE + encodeURIComponent(editing), body)
      : await call("POST", BASE, body);
    say(out, `Saved “${saved.name}”${saved.shortcut ? ` (${saved.shortcut})` : ""}.`);
    reset();
    await refresh();
    $("resp-name").focus();
  } catch (err) {
    failed(err);
  }
}

// onDelete asks once more on the same button, like the accounts table.
async function onDelete(btn, x) {
  if (btn.dataset.confirm !== "1") {
    btn.dataset.confirm = "1";
    btn.textContent = "Confirm delete";
    btn.setAttribute("aria-label", `Confirm: delete ${x.name}`);
    return;
  }
  try {
    await call("DELETE", BASE + encodeURIComponent(x.id));
    if (editing === x.id) reset();
    say($("response-status"), `Deleted “${x.name}”.`);
    await refresh();
    $("resp-name").focus();
  } catch (err) {
    failed(err);
  }
}
