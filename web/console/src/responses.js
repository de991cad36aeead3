// Standard responses in the agent console: the list in scope for the agent
// (GET /agent/v1/standard-responses), the shortcut typed before the caret (/greet, then Tab or
// Enter puts the text in its place) and the picker (Alt+R), a combobox with a filter over a
// listbox. Admins manage the responses in the admin console.

import { h } from "./dom.js";

// How long a fetched list counts as current: an unknown shortcut typed after that fetches
// again before giving up, so an admin's new response works without a reload.
const FRESH_MS = 2000;

export const PICKER_KEY = "Alt+R";

export class Responses {
  constructor(call) {
    this.call = call;
    this.list = [];
    this.at = 0;
    this.inflight = null;
  }

  // refresh reads the list (one request at a time).
  async refresh() {
    if (!this.inflight) {
      this.inflight = this.call("GET", "/standard-responses")
        .then((r) => {
          this.list = r.responses || [];
          this.at = Date.now();
          return this.list;
        })
        .finally(() => { this.inflight = null; });
    }
    return this.inflight;
  }

  fresh() {
    return Date.now() - this.at < FRESH_MS;
  }

  byShortcut(s) {
    const k = s.toLowerCase();
    return this.list.find((r) => r.shortcut === k) || null;
  }
}

// shortcutBefore finds a shortcut-like word (/ and 1–32 of a-z 0-9 _ -) that ends at the
// caret of a textarea, at the start or after white space.
export function shortcutBefore(ta) {
  if (ta.selectionStart !== ta.selectionEnd) return null;
  const before = ta.value.slice(0, ta.selectionStart);
  const m = /(^|\s)(\/[A-Za-z0-9_-]{1,32})$/.exec(before);
  return m ? { token: m[2], start: ta.selectionStart - m[2].length, end: ta.selectionStart } : null;
}

// insert replaces [start, end) of a textarea with text, puts the caret after it, and fires
// input (so typing is announced as for any keystroke).
export function insert(ta, start, end, text) {
  ta.setRangeText(text, start, end, "end");
  ta.dispatchEvent(new Event("input", { bubbles: true }));
}

let seq = 0;

// Picker is a pane's list of standard responses: a filter field (combobox) over a listbox.
// ArrowUp/ArrowDown move, Enter inserts, Escape closes; a click inserts too.
export class Picker {
  constructor(responses, onPick, onClose) {
    this.responses = responses;
    this.onPick = onPick;
    this.onClose = onClose;
    const id = `picker${++seq}`;
    this.listId = `${id}-list`;
    this.filter = h("input", {
      class: "picker-filter", type: "search", role: "combobox", "aria-expanded": "true", "aria-controls": this.listId,
      "aria-autocomplete": "list", "aria-label": "Filter standard responses", autocomplete: "off", placeholder: "Filter by name, shortcut or text",
    });
    this.listbox = h("ul", { class: "picker-list", role: "listbox", id: this.listId, "aria-label": "Standard responses" });
    this.empty = h("p", { class: "muted picker-empty", role: "status" });
    this.el = h("div", { class: "picker card", role: "dialog", "aria-label": "Standard responses", hidden: true },
      this.filter, this.listbox, this.empty,
      h("p", { class: "muted hint" }, "↑ ↓ choose · Enter inserts · Esc closes"));
    this.items = [];
    this.active = 0;
    this.filter.addEventListener("input", () => this.render());
    this.filter.addEventListener("keydown", (e) => this.key(e));
  }

  get open() {
    return !this.el.hidden;
  }

  async show() {
    this.el.hidden = false;
    this.filter.value = "";
    this.active = 0;
    this.render();
    this.filter.focus();
    try {
      await this.responses.refresh();
      if (this.open) this.render();
    } catch (e) {
      this.empty.textContent = `Standard responses unavailable: ${e.message}`;
    }
  }

  hide() {
    if (!this.open) return;
    this.el.hidden = true;
    this.onClose();
  }

  render() {
    const q = this.filter.value.trim().toLowerCase();
    this.items = this.responses.list.filter((r) => !q || [r.name, r.shortcut || "", r.text].some((s) => s.toLowerCase().includes(q)));
    this.active = Math.min(this.active, Math.max(0, this.items.length - 1));
    this.listbox.replaceChildren(...this.items.map((r, i) => h("li", {
      role: "option", id: `${this.listId}-${i}`, class: "picker-item", "aria-selected": String(i === this.active),
      onmousedown: (e) => e.preventDefault(), // keep the focus in the filter until the pick
      onclick: () => this.pick(r),
    }, h("span", { class: "card-title" }, r.name), r.shortcut ? h("kbd", {}, r.shortcut) : null, h("span", { class: "muted picker-text" }, r.text))));
    if (this.items.length) this.filter.setAttribute("aria-activedescendant", `${this.listId}-${this.active}`);
    else this.filter.removeAttribute("aria-activedescendant");
    this.empty.textContent = this.items.length ? "" : this.responses.list.length ? "No response matches." : "No standard responses.";
    const el = this.listbox.children[this.active];
    if (el) el.scrollIntoView({ block: "nearest" });
  }

  key(e) {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!this.items.length) return;
      this.active = (this.active + (e.key === "ArrowDown" ? 1 : this.items.length - 1)) % this.items.length;
      this.render();
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (this.items[this.active]) this.pick(this.items[this.active]);
    } else if (e.key === "Escape") {
      e.preventDefault();
      this.hide();
    }
  }

  pick(r) {
    this.el.hidden = true;
    this.onPick(r);
  }
}
