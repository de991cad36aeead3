// Package audit keeps the audit log of admin changes: who (the admin and how it
// authenticated), what (method, route pattern, path, an optional resource and a short
// summary a handler adds), when and with which result, for every state-changing request
// web/adminauth lets through (docs/operations.md, "Audit log").
//
// # Why it is built this way
//
//   - The log is the Auditor of adminauth.Credentials.Require, the one gate of every admin
//     surface (/admin/..., /workflow/...): an admin route added later is audited without
//     anyone remembering to, and a request refused for its CSRF token is recorded too (403).
//     Reads (GET, HEAD, OPTIONS) are not recorded.
//   - It never records a body, a query string or a header: those are where passwords, keys
//     and tokens travel. A handler may add a summary with Note; what it writes there is its
//     responsibility, and the ones in this repository name only non-secret facts ("password
//     set", never the password).
//   - Records go to a JetStream stream (CHATGATE_AUDIT), bounded by age and bytes with the
//     oldest discarded, so the log survives restarts, is the same on every node of a cluster
//     and cannot fill the disk. A record is published after the handler answered (its status
//     is part of it); a store that does not take it is logged at error level and counted, and
//     the change stays done: refusing admin work because the audit store hiccuped would be
//     worse than a gap the error log shows.
//   - Reading is newest first by stream sequence (GET /admin/audit?before=&limit=), one
//     direct get per record: pages are small and admins read rarely.
package audit
