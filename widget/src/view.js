// The widget's static structure inside its shadow root: launcher, panel, header, banner, the
// pre-chat form, transcript, typing line, composer (its emoji grid comes from emoji.js) and
// the end/ended areas. The controller (widget.js) fills and toggles them; nothing here parses
// HTML.

import { el } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

// icon builds an SVG icon from one path.
export function icon(d) {
  const s = document.createElementNS(SVG, "svg");
  s.setAttribute("viewBox", "0 0 24 24");
  s.setAttribute("aria-hidden", "true");
  s.setAttribute("focusable", "false");
  const p = document.createElementNS(SVG, "path");
  p.setAttribute("d", d);
  s.append(p);
  return s;
}

const icons = {
  chat: "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2z",
  minimise: "M5 11h14v2H5z",
  bell: "M12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2zm6-6V11a6 6 0 0 0-5-5.9V4a1 1 0 0 0-2 0v1.1A6 6 0 0 0 6 11v5l-2 2v1h16v-1z",
  send: "M3 20l18-8L3 4v6l12 2-12 2z",
  // A smiling face: a ring, two eyes, a half-disc mouth (nonzero fill: the inner circle runs
  // the other way round, so the ring is hollow).
  emoji: "M12 2a10 10 0 1 0 0 20a10 10 0 1 0 0-20zm0 2a8 8 0 1 1 0 16a8 8 0 1 1 0-16zM8.5 8a1.5 1.5 0 1 0 0 3a1.5 1.5 0 1 0 0-3zm7 0a1.5 1.5 0 1 0 0 3a1.5 1.5 0 1 0 0-3zM7 14h10a5 5 0 0 1-10 0z",
  attach: "M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z",
};

let seq = 0;

// build returns the root element and named references to its parts.
export function build(t, title) {
  const id = `cg${++seq}`;
  const r = {};
  r.badge = el("span", { class: "badge", "aria-hidden": "true", hidden: true });
  r.launcherLabel = el("span", { class: "sr" }, t.open);
  r.launcher = el("button", {
    class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": `${id}-panel`,
    part: "launcher",
  }, icon(icons.chat), r.launcherLabel, r.badge);

  r.title = el("h2", { id: `${id}-title` }, title || t.title);
  r.endBtn = el("button", { class: "hbtn", type: "button", hidden: true }, t.endChat);
  r.minBtn = el("button", { class: "hbtn", type: "button", "aria-label": t.close, title: t.close }, icon(icons.minimise));
  // The Web Push opt-in: a toggle (aria-pressed), shown only when push can work here.
  r.pushBtn = el("button", {
    class: "hbtn push", type: "button", "aria-pressed": "false", "aria-label": t.pushOptIn, title: t.pushOptIn, hidden: true,
  }, icon(icons.bell));
  r.header = el("header", {}, r.title, r.pushBtn, r.endBtn, r.minBtn);
  r.banner = el("div", { class: "banner", role: "status", hidden: true });

  r.form = el("form", { class: "prechat", novalidate: true }, el("p", {}, t.formIntro));
  r.formFields = el("div", {});
  r.formError = el("p", { class: "ferr", role: "alert" });
  r.startBtn = el("button", { class: "primary", type: "submit" }, t.start);
  r.form.append(r.formFields, r.formError, r.startBtn);

  r.log = el("div", {
    class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
    "aria-label": t.transcriptTitle, tabindex: "0",
  });
  r.body = el("div", { class: "body" }, r.form, r.log);
  r.typing = el("div", { class: "typing" });

  r.input = el("textarea", { class: "msg-input", rows: "1", "aria-label": t.composer, placeholder: t.composer, maxlength: "4000" });
  r.file = el("input", { type: "file", class: "sr", tabindex: "-1", "aria-hidden": "true" });
  r.attachBtn = el("button", { class: "ibtn", type: "button", "aria-label": t.attach, title: t.attach }, icon(icons.attach));
  r.emojiBtn = el("button", { class: "ibtn", type: "button", "aria-label": t.emoji, title: t.emoji }, icon(icons.emoji));
  r.sendBtn = el("button", { class: "ibtn send", type: "submit", "aria-label": t.send, title: t.send }, icon(icons.send));
  r.composer = el("form", { class: "composer", hidden: true }, r.attachBtn, r.emojiBtn, r.file, r.input, r.sendBtn);

  r.confirmYes = el("button", { class: "primary", type: "button" }, t.endYes);
  r.confirmNo = el("button", { class: "secondary", type: "button" }, t.endNo);
  r.confirm = el("div", { class: "confirm", hidden: true }, el("p", {}, t.endConfirm), r.confirmYes, r.confirmNo);

  r.transcriptBtn = el("button", { class: "secondary", type: "button" }, t.transcript);
  r.newChatBtn = el("button", { class: "primary", type: "button" }, t.newChat);
  r.ended = el("div", { class: "ended", hidden: true }, el("p", {}, t.ended), r.newChatBtn, r.transcriptBtn);

  r.panel = el("div", {
    class: "panel", id: `${id}-panel`, role: "dialog", "aria-labelledby": `${id}-title`, hidden: true,
    part: "panel",
  }, r.header, r.banner, r.body, r.typing, r.composer, r.confirm, r.ended);
  r.root = el("div", { class: "root" }, r.launcher, r.panel);
  r.id = id;
  return r;
}

// field builds one pre-chat form field; returns {wrap, input, error}.
export function field(id, f) {
  const input = f.type === "textarea"
    ? el("textarea", { id, name: f.name, rows: "3" })
    : el("input", { id, name: f.name, type: f.type || "text", autocomplete: f.autocomplete });
  if (f.required) input.setAttribute("aria-required", "true");
  if (f.maxLength) input.setAttribute("maxlength", String(f.maxLength));
  const error = el("span", { class: "ferr", id: `${id}-err` });
  input.setAttribute("aria-describedby", error.id);
  const label = el("label", { for: id }, f.label + (f.required ? " *" : ""));
  return { wrap: el("div", { class: "field" }, label, input, error), input, error };
}
