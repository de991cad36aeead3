// Package feed records every committed chat event, every change of the interaction
// properties the chat core maintains and of a chat's userData, and every purge in a
// JetStream stream (FEED, subjects feed.<chatId>.event, .properties, .userData, .purged),
// and delivers it to the workflow and to reporting: Server-Sent Events that resume from
// Last-Event-ID, webhooks with signatures, retries and dead letters, NDJSON export by
// time range, and per-chat summaries (JSON or CSV) for historical reporting.
// docs/workflow.md "Event feed" is the user's documentation.
//
// # Why summaries are computed from the records, in one pass
//
// A reporting stack gets the records (export, webhooks) and nothing else, so the summaries
// are computed from exactly those: what the summary says can be recomputed from an export.
// One pass in feed order (Scan) with a running state per chat keeps memory to the chats
// open at once (bounded, MaxSummaryOpen) instead of the whole range, and the answer streams:
// a chat's summary is written when its end is recorded. The summarizer emits Summary
// values; the JSON and CSV writers only format them, so both formats carry the same values.
//
// # Why a core listener, and what it cannot see
//
// The core's listener fan-out is the only place where events and property changes leave the
// core together, per chat in commit order, exactly once per commit (chatcore.Listener), so
// the feed is a listener like web/chatmetrics. It writes each record synchronously, so a
// chat's records are stored in its commit order (the core delivers one chat's commits one at
// a time). The record's sequence in the stream is the one id of the feed: the SSE id, the
// webhook delivery header, the export order.
//
// The listener runs after the transcript append is acknowledged, so a crash between that
// append and the feed's write would lose the records of the commits in flight. The
// transcript holds every committed event, so Backfill re-reads it at start: for each chat
// the core holds, the events after the last event record, then the chat's current
// properties (the intermediate property values of those commits are not recovered).
// Chats the core no longer holds in memory at start (ended and released) are not
// backfilled (docs/workflow.md lists both gaps).
//
// # Old and new values, userData, purges, secrets
//
// The feed is a chatcore.ChangeListener: the core hands it each commit's property changes
// with the values before and after, and the userData changes, also those of operations
// that add no event (UpdateUserData, Annotate) — a reporting system needs the status
// history, not only the current state. As a chatcore.PurgeListener it records the purge
// that retention makes, so a consumer knows the chat is gone rather than silent. The feed
// leaves the process (webhooks, exports), so userData keys that may hold credentials or
// device addresses (Secret) are redacted in every record: a change record says only that
// they changed.
//
// # Why one consumer and one goroutine per webhook endpoint
//
// Ordered per chat is simplest to guarantee as ordered overall: each endpoint has a durable
// JetStream consumer (webhook_<id>, MaxAckPending 1) and one dispatcher that delivers one
// record at a time, retrying with exponential backoff, and acknowledges it only after a 2xx
// (or after moving it to the dead letters, stream FEED_DEAD). A crash or stop leaves the
// record unacknowledged; JetStream redelivers it after the ack wait (at least once). The
// price is throughput per endpoint: one round trip per record (docs/benchmarks.md).
//
// Subscriptions live in the KV bucket CHATGATE_WEBHOOKS, secrets included (they are needed
// in clear to sign); the API shows a secret once, at creation.
//
// # Metrics
//
// Metrics (a prometheus.Collector, registered by cmd/chatgate) reads counters the feed keeps
// itself — records by kind, per-endpoint attempts, retries, dead letters, replays and the
// delivery lag in fixed buckets, open streams — as atomics, so the delivery path never waits
// for a scrape; the waiting dead letters are read from FEED_DEAD at the scrape.
//
// # Locks
//
// Webhooks.mu guards the map of running dispatchers and the map of endpoint counters only;
// it is never held while calling out (HTTP, JetStream) or while waiting for a dispatcher to
// stop.
package feed
