// Condition waiting without sleeps: every wait polls a condition or listens for an event and
// fails with a message that says what it was waiting for.

export class TimeoutError extends Error {}

// waitFor resolves with the first truthy value of cond() (sync or async), polling every `every`
// ms, and rejects after `timeout` ms with `what` in the message.
export async function waitFor(what, cond, { timeout = 10000, every = 20 } = {}) {
  const deadline = Date.now() + timeout;
  let lastErr;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      const suffix = lastErr ? ` (last error: ${lastErr.message})` : "";
      throw new TimeoutError(`timed out after ${timeout} ms waiting for ${what}${suffix}`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

// withTimeout rejects if p does not settle within ms.
export function withTimeout(what, p, ms = 10000) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// Inbox collects messages and lets a test await the next one that matches.
export class Inbox {
  constructor(name = "inbox") {
    this.name = name;
    this.items = [];
    this.all = [];
    this.waiters = [];
  }

  push(item) {
    this.all.push(item);
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i];
      if (w.pred(item)) {
        this.waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(item);
        return;
      }
    }
    this.items.push(item);
  }

  // next resolves with (and removes) the first queued or future item matching pred.
  next(pred = () => true, timeout = 10000, what = "a message") {
    const i = this.items.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.items.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new TimeoutError(
          `${this.name}: timed out after ${timeout} ms waiting for ${what}; ` +
          `received so far: ${JSON.stringify(this.all).slice(0, 2000)}`));
      }, timeout);
      this.waiters.push(w);
    });
  }

  // take collects n matching items in arrival order.
  async take(n, pred = () => true, timeout = 10000, what = "messages") {
    const out = [];
    const deadline = Date.now() + timeout;
    while (out.length < n) {
      const left = Math.max(1, deadline - Date.now());
      out.push(await this.next(pred, left, `${what} (${out.length}/${n} so far)`));
    }
    return out;
  }

  // drain forgets queued items so that later next() calls only see new arrivals.
  drain() { this.items.length = 0; }

  count(pred = () => true) {
    return this.all.filter(pred).length;
  }
}
