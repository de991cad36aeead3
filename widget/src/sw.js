// chatgate widget service worker (served as /widget/sw.js; docs/widget.md "Web Push").
// Not bundled: a service worker is its own script. It shows the pushes chatgate sends (the
// decrypted body is {"id", "title", "body", "data"}, docs/push.md) and, on a click, brings
// the chat page back: an open tab of it is focused, otherwise the page is opened. The page
// is the one that registered this worker, passed as ?open= (same origin only, so a crafted
// registration cannot make a notification open another site).
"use strict";

const openURL = (() => {
  try {
    const u = new URL(new URL(self.location.href).searchParams.get("open") || "/", self.location.origin);
    return u.origin === self.location.origin ? u.href : self.location.origin + "/";
  } catch {
    return self.location.origin + "/";
  }
})();

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));

self.addEventListener("push", (e) => {
  let p = {};
  try {
    p = e.data ? e.data.json() : {};
  } catch {
    p = { body: e.data ? e.data.text() : "" };
  }
  const data = p.data || {};
  // A push without text (the liveness ping) shows nothing; browsers allow a few of those.
  if (!p.title && !p.body) return;
  e.waitUntil(self.registration.showNotification(p.title || "Chat", {
    body: p.body || "",
    tag: data.chatId ? `chatgate-${data.chatId}` : undefined,
    renotify: !!data.chatId,
    data: { ...data, open: openURL },
  }));
});

self.addEventListener("notificationclick", (e) => {
  e.notification.close();
  const target = new URL(openURL);
  target.hash = "chatgate-open";
  e.waitUntil((async () => {
    const wins = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const same = wins.find((c) => c.url.split("#")[0] === target.href.split("#")[0]);
    if (same) {
      await same.focus();
      same.postMessage({ chatgate: "open" });
      return;
    }
    await self.clients.openWindow(target.href);
  })());
});
