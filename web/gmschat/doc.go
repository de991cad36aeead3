// Package gmschat is chatgate's implementation of the Genesys GMS Chat API v2, over REST
// (/genesys/2/chat/{serviceName}[/{chatId}/{operation}], /genesys/2/chat-ntf) and over CometD
// (/service/chatV2/{serviceName}).
//
// This package is only the wire layer: it decodes what customer widgets and mobile apps send
// (form bodies with userData[key] bracket fields, the JSON `data` of a Bayeux publish), encodes
// the one response object GMS answers every Chat V2 request with, and maps failures to the
// GMS error body. Chat rules live in chatcore; Bayeux sessions live in bayeux. Keeping the
// wire layer separate means the two flavours (REST and CometD) share one decoder per field and
// one encoder, so a chat created over one flavour reads the same over the other.
//
// Every answer to the customer carries its credentials (chatId, userId, secureKey, alias):
// the Genesys widget rewrites its stored keys from each one. Attached Bayeux sessions are kept
// in an index whose lock order with the per-session push lock is written in attach.go.
//
// A waiting customer learns its routing queue position from refresh answers
// (PositionBackend): the router is reached through QueuePositions, an interface owned here and
// adapted in cmd/chatgate, so the wire layer knows nothing of how chats are routed.
//
// Every decoder here parses untrusted input: each has hard size limits (Limits) that are
// checked while reading, never after, and a native fuzz target. The behaviour choices where
// the public GMS material is silent (error codes, transcriptPosition edge cases, JSON bodies on
// REST, which fields a response carries) are documented in docs/gms-api.md.
package gmschat
