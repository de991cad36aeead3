// Package bayeux is a Bayeux 1.0 server as the real CometD (npm cometd 7–9) and Faye (1.4)
// clients expect it: meta channels (/meta/handshake, connect, subscribe, unsubscribe,
// disconnect), broadcast channels with * and ** wildcards, service channels (/service/**)
// handled by server code, and the websocket, long-polling and callback-polling (JSONP)
// transports, all on one http.Handler.
//
// Why a package of our own: chatgate speaks the GMS Chat API's CometD flavour to existing
// widgets and mobile apps, so the wire behaviour of the stock clients is the contract (see
// docs/bayeux.md for the choices made where the specification is thin). The package knows
// nothing of chats: the GMS adapter (web/gmschat) registers a service handler on
// /service/chatV2/* and pushes chat events to sessions with Server.Deliver.
//
// The main choices, and why:
//
//   - Every unknown, expired or foreign clientId gets 402::session_unknown with advice
//     {reconnect: "handshake", interval: 0}: both stock clients act on the advice only, and
//     the CometD client otherwise retries /meta/connect forever.
//   - A request that carries the BAYEUX_BROWSER cookie of a browser with live sessions must
//     carry its session's (a clientId is useless from another browser); one without the
//     cookie, or with one that owns no session, is accepted, on every
//     transport, because many clients send none (Node and Faye websockets, the Genesys
//     widget's credential-less XHRs). The clientId, 160 random bits, is the secret;
//     cookie-less handshakes are bounded by a per-address rate limit whose refusal advises
//     the client to handshake again later.
//   - One origin policy for every transport: the Origin, else the Referer (JSONP is a script
//     tag, which sends cookies from any page and no Origin), must be one of the server's
//     public origins or an allowed origin; the Host header never makes an origin "same"
//     (DNS rebinding). Abuse limits (handshake rate, sessions and subscriptions per browser,
//     queue bytes) refuse with Bayeux replies the stock clients act on, and are counted.
//   - Messages for a session wait in a queue bounded in count and in encoded bytes, and all
//     queues share one byte budget; overflow drops the oldest messages, logged and counted
//     (Stats.QueueDrops) — a slow or absent client cannot grow memory.
//   - With the ack extension every message goes through /meta/connect replies in numbered
//     batches and is resent until acknowledged, so a chat event written into a connection
//     that died still arrives (chatgate's requirement for chat events).
//   - Long-polling delivers only through /meta/connect replies (CometD's
//     metaConnectDeliverOnly), which keeps server→client order simple; a websocket without
//     ack pushes messages as soon as they are queued.
//   - Broadcasts are encoded once and the bytes shared by every subscriber's queue; fan-out
//     across nodes goes through the Broker interface (in-memory by default).
//   - Time comes from the standard library only; tests run timers in testing/synctest
//     bubbles, so expiry and hold timeouts are tested deterministically without sleeps.
//   - No goroutine per session: a held long-poll waits on its request goroutine; a
//     websocket has one reader goroutine of its own (the HTTP handler returns after the
//     upgrade, releasing net/http's per-connection buffers) and at most one writer
//     goroutine, which exists only while something is queued; frames are processed on a
//     short-lived goroutine so that the idle reader keeps a small stack. Timers are
//     time.AfterFunc, one per session. An idle websocket session costs ~8–11 KiB
//     (docs/benchmarks.md).
//   - Shutdown answers held connects, closes websockets with a going-away frame and waits
//     for every goroutine it started.
package bayeux
