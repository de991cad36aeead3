// Package responses keeps the standard (canned) responses agents insert into chats: a name,
// an optional keyboard shortcut (such as /greet), the text, and an optional scope of
// services and queues. Admins manage them through AdminHandler (/admin/responses); agents
// read the ones in scope for their queues through the agent API
// (GET /agent/v1/standard-responses, web/agentapi).
//
// # Why it is built this way
//
//   - One JetStream KV bucket (CHATGATE_RESPONSES) holds them, so every node and every
//     console sees the same set at once and they survive restarts, like accounts. There is
//     no cache: a list is one KV watch that delivers the current values and stops, so an
//     edit shows at the agent's next read on any node.
//   - A shortcut is unique across all responses (an agent types it and expects one text).
//     Uniqueness is a KV key per shortcut (s.<shortcut> → response id) taken with Create,
//     the compare-and-set of KV, so two admins on two nodes cannot both take /greet. A key
//     left behind by a crash between the two writes names a response that no longer has that
//     shortcut; the next claim sees that and takes it over with an Update on its revision.
//   - Validation happens before any write, so a refused request changes nothing; every
//     answer uses web/apijson's {"error","code"} shape, as the other admin APIs do.
//   - Scope is data here; who is in scope is the agent API's decision (it knows queues,
//     services and roles), so this package does not import it.
package responses
