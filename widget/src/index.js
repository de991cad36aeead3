// Entry point of the bundle (dist/chatgate.js). One tag embeds the widget:
//
//   <script src="https://chat.example.com/widget/chatgate.js" data-service="customer-support"></script>
//
// or, with the tag's data-manual attribute (or without data-service), from code:
//
//   ChatGate.init({ service: "customer-support", lang: "de", fields: [...] })
//
// The server defaults to the origin the script was loaded from.

import { Widget } from "./widget.js";

const script = document.currentScript;

function fromScript(s) {
  const d = s.dataset;
  const cfg = { service: d.service };
  if (d.server) cfg.server = d.server;
  if (d.lang) cfg.lang = d.lang;
  if (d.title) cfg.title = d.title;
  if (d.open !== undefined) cfg.open = d.open !== "false";
  if (d.typingPreview !== undefined) cfg.typingPreview = d.typingPreview !== "false";
  if (d.websocket !== undefined) cfg.websocket = d.websocket !== "false";
  if (d.push !== undefined) cfg.push = d.push !== "false";
  if (d.serviceWorker) cfg.serviceWorker = d.serviceWorker;
  if (d.pushProvider) cfg.pushProvider = d.pushProvider;
  if (d.fields) {
    // "nickname*,email,subject": names of the form fields, * marks required ones.
    cfg.fields = d.fields.split(",").map((f) => f.trim()).filter(Boolean).map((f) => {
      const required = f.endsWith("*");
      const name = required ? f.slice(0, -1) : f;
      return { name, required, type: name === "email" ? "email" : name === "subject" ? "textarea" : "text" };
    });
  }
  return cfg;
}

let instance = null;

function init(options = {}) {
  if (instance) instance.destroy();
  const base = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  const cfg = { service: "customer-support", server: base, ...options };
  if (!/^[A-Za-z0-9_.-]+$/.test(cfg.service)) throw new Error(`ChatGate: invalid service name ${cfg.service}`);
  cfg.server = new URL(cfg.server, location.href).origin;
  const start = () => {
    instance = new Widget(cfg);
    api.widget = instance;
  };
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
  return api;
}

const api = {
  init,
  open: () => instance && instance.open(),
  close: () => instance && instance.close(),
  destroy: () => {
    if (instance) instance.destroy();
    instance = null;
  },
  widget: null,
};

window.ChatGate = api;

if (script && script.dataset.service && script.dataset.manual === undefined) init(fromScript(script));
