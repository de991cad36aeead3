// Package adminauth authenticates chatgate's admin APIs (push credentials, and any later
// admin surface): a bearer token or HTTP Basic credentials, compared as SHA-256 hashes in
// constant time so that neither the secret's content nor its length leaks through timing.
//
// A server started without admin-token and without admin-user/admin-password must still be
// administrable, or a first-time user cannot upload a push credential without restarting.
// FirstRunToken covers that: it generates a random token once per cluster, stores only its
// hash in the KV bucket CHATGATE_ADMIN, and returns the token text that one time so the caller
// can print it. Later starts find the hash and never see the token again; setting admin-token
// replaces it (with an external NATS cluster, deleting the key admin.token.sha256 generates a
// new one at the next start; the embedded store has no listener for a NATS client).
//
// The admin console (a browser) does not keep the token: SessionHandler exchanges it once
// for a console session whose random token lives only in an HttpOnly, SameSite=Strict cookie
// (web/cookieauth) and, hashed, in the same bucket with its expiry, so it can be revoked on
// log out and ends on every node. Require accepts that cookie like the token, but a
// state-changing request authenticated by it must carry the session's CSRF token. Require
// is the one gate of every admin surface, so it also hands every request it lets through to
// the Auditor (the audit log), and admin routes added later are covered without more code.
package adminauth
