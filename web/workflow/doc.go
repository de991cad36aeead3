// Package workflow is chatgate's workflow API: what a routing workflow (the original's
// Interaction Server strategy talking to Chat Server over ESP) needs to look after async
// chats, as authenticated JSON over HTTP:
//
//	GET  /chats/{chatId}          session info: service, participants, interaction properties
//	                              (GCTI_Chat_AsyncStatus, GCTI_Chat_AsyncCheckAt, IsOnline,
//	                              ChatServerAppName), lastIndex, ended, restored
//	POST /chats/{chatId}/restore  session restoration by the workflow (the ESP request
//	                              GetSessionInfo with InduceRestore=true): 200 with the
//	                              session info, 404 unknown chat, 409 refused (not allowed
//	                              by session-restore-extend-by, ended, not async)
//	GET  /chats?checkDue=1        live chats whose GCTI_Chat_AsyncCheckAt has passed: the
//	                              interactions a "stuck" strategy looks at
//	POST /chats/{chatId}/messages, /properties, /end, /bots
//	                              the workflow's operations: a system message, userData,
//	                              end the chat, add a bot account (bots.go); with
//	                              Idempotency-Key they act once (web/idempotency, shared
//	                              with the agent API)
//
// Why idempotency keys live in a KV bucket with a TTL: a workflow retries after a timeout
// without knowing whether its first call acted; the stored answer (in the store, so it
// survives a restart and is shared by the nodes of a cluster) lets the retry get the first
// answer instead of a second system message or a 409 for a chat it already ended. The key
// is recorded as pending before the operation and completed after it, so concurrent calls
// with one key act once.
//
// Routes are relative to where the handler is mounted (cmd/chatgate mounts it at
// /workflow/v1/). Authentication is web/adminauth's, shared with the admin APIs.
//
// Why it looks like this: the ESP wire protocol of the original is not public (gms-chat-v2.md
// §4.3 says so), so chatgate offers the same facts — the session's properties and the
// InduceRestore effect — over plain HTTP, with the rules themselves in chatcore (Restore,
// CheckDue). Errors are {"error": "...", "code": "..."} with a stable code; bodies are bounded;
// nothing here returns a chat's secureKey. docs/workflow.md has examples.
package workflow
