// Package idempotency makes an HTTP operation act once per Idempotency-Key header: the
// workflow API's operations (web/workflow) and the agent API's actions (web/agentapi) share
// it, and one KV bucket (CHATGATE_IDEMPOTENCY, with a TTL, so keys expire by themselves).
//
// # Why it is built this way
//
//   - A client that lost an answer (a network drop, a proxy reset, a browser that retries a
//     POST on a reset connection by itself) sends the same request again with the same key;
//     the first call's answer is stored and repeated (Idempotent-Replayed: true), so the
//     action — a message, an end, a bot join — happens once.
//   - The first call writes a pending record with Create (KV's compare-and-set), so two
//     concurrent calls with one key, on any node, act once: the second answers 409
//     idempotency_in_progress with Retry-After. A pending record older than PendingTimeout
//     (its process died mid-call) is taken over with an Update on its revision.
//   - The same key with another body is a client bug: 422 idempotency_key_reused. 5xx
//     answers are not stored (the client should retry and act).
//   - The record's key is a hash of the namespace, the caller's scope (an agent's account,
//     so two agents never meet), the method, the path and the key: any header value is a
//     valid KV key and keys of different APIs and callers never collide.
package idempotency
