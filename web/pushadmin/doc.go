// Package pushadmin is the administrator's HTTP API for push credentials: create, replace,
// list and delete one credential per provider kind, configuration name
// (push_notification_provider) and variant (push_notification_debug), generate VAPID key
// pairs, and read the dispatcher's counters.
//
// Why it looks like this: credentials are secrets, so uploads are validated on the spot
// (the .p8 parses, the .p12 opens and has not expired, the VAPID pair matches, the service
// account has an RSA key and a project) with a message that says exactly what is wrong;
// they are stored encrypted (push/credstore) and only public facts are ever returned: the
// fingerprint is the SHA-256 of the public half (certificate, public key), which an
// operator can recompute from the file with openssl, and a certificate's expiry comes with
// a warning 30 days ahead. Writes take effect without a restart: the KV watch swaps the
// provider on every node and this node applies the change immediately (with the write's
// KV revision, so a late watch delivery of an earlier write cannot undo it). That is also
// what makes a VAPID rotation (generate again) sign the very next push with the new key.
//
// Routing is go-chi/chi, as for the rest of the server; its 404 and 405 answer the shared
// JSON error shape of web/apijson like every other error here.
//
// Authentication is delegated to web/adminauth (bearer token, first-run token or Basic
// credentials), shared with every admin surface.
package pushadmin
