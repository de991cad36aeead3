// Package jetstore is chatgate's storage engine behind chatcore: chats kept in NATS
// JetStream, embedded in the process or on an external cluster (internal/natsserver decides
// which; this package does not care).
//
// The mapping is chosen so that JetStream itself enforces chatcore's invariants instead of
// this package trusting its callers:
//
//   - transcript: stream CHAT_EVENTS, one subject per chat (chat.<chatID>.ev), one message per
//     append call. Appends carry Nats-Expected-Last-Subject-Sequence, so only one writer can
//     extend a chat after a given index: a node that wrongly believes it owns the chat gets
//     ErrConflict instead of interleaving events or leaving gaps, and a multi-event append is
//     atomic because it is one message.
//   - chat state: KV bucket CHAT_STATE, key <chatID>, written with Create / Update(revision)
//     (compare-and-set).
//   - files: object store CHAT_FILES, object <chatID>/<fileID>.
//   - key index: KV bucket CHAT_KEYS, key <hex SHA-256 of a secureKey>, value the chat id, so
//     a chat not held in memory can be found from its key without the key being stored.
//
// Transcripts are read one bounded page at a time (EventsPage): there is no whole read, so
// a reader's memory is one page whatever a chat's length. Reads from an index avoid
// JetStream's per-subject forward scan (whose cost grows with the number of other chats
// written meanwhile) by following a per-chat back-pointer chain of stream sequences, keeping
// only the records the page can still need.
//
// Limits are JetStream's own, so they hold whatever a writer does: a maximum record size, a
// per-chat record cap and byte quotas on the stream and buckets, all with discard-new (a
// write is refused with ErrQuota, nothing stored is dropped). See docs/storage.md for the
// mapping, the durability levels, the limits and the measurements behind these choices.
package jetstore
