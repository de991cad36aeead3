// Package chatmetrics turns the chat core's committed events into Prometheus metrics and
// info-level log lines: chats open (by service and async status), created, ended (by the
// customer's quit reason), messages in and out, chat timers armed, and the push decisions
// of web/pushlink by outcome.
//
// # Why a listener
//
// chatcore knows nothing of Prometheus (it imports none of web). Every committed event
// already leaves the core through one fan-out path, exactly once per commit and in order per
// chat, so a chatcore.Listener sees each creation, message and end once without touching the
// core's internals; the only thing a listener cannot see, the number of armed timers, comes
// from Core.TimersArmed, which takes the timer lock only.
//
// The open-chat gauge is kept here, one small entry per open chat, rather than computed by
// walking the core's chats on each scrape: a scrape must not wait behind a chat's lock
// (store I/O happens under it). Chats already open when the process starts are seeded from
// the core once, at New.
//
// # Bounds
//
// The service name comes from the request URL, and chatgate accepts any service when the
// `services` setting is empty, so a client could otherwise mint one label value per
// request. At most MaxServices distinct service names become label values (default 64);
// later ones are counted under service="_other". Chat ids never become label values.
//
// Log lines name the chat id, service and reason, never the secure key, nicknames, texts
// or userData.
package chatmetrics
