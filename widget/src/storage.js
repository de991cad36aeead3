// What survives a reload, a closed tab and a browser restart: the chat's credentials, the
// last transcript index seen, the transcript itself (so a reload shows it at once and asks
// the server only for what is new) and the unread count. One localStorage entry per server
// and service. If storage is unavailable (private mode, blocked) the chat still works, it
// just does not survive a reload.

const MAX_EVENTS = 300; // transcript kept locally; older events are dropped from the cache only

export class Store {
  constructor(base, service) {
    this.key = `chatgate:v1:${base}:${service}`;
  }

  load() {
    try {
      const v = JSON.parse(localStorage.getItem(this.key) || "null");
      if (!v || typeof v !== "object" || typeof v.chatId !== "string") return null;
      v.events = Array.isArray(v.events) ? v.events : [];
      return v;
    } catch {
      return null;
    }
  }

  save(s) {
    if (!s) return this.clear();
    const v = { ...s, events: s.events.slice(-MAX_EVENTS) };
    try {
      localStorage.setItem(this.key, JSON.stringify(v));
    } catch {
      // Quota or blocked storage: keep working without persistence.
    }
  }

  clear() {
    try {
      localStorage.removeItem(this.key);
    } catch {
      // ignore
    }
  }
}
