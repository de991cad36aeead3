// Package accounts keeps the accounts of agents, supervisors and bots and the secrets that
// let them in: argon2id password hashes, API tokens for bots and the session tokens a login
// returns.
//
// # Why it is built this way
//
//   - Everything lives in one JetStream KV bucket (CHATGATE_ACCOUNTS), so accounts,
//     revocations and logouts are cluster-wide and survive restarts; there is no cache, so a
//     revoked token stops working on every node at its next request.
//   - Passwords are hashed with argon2id (golang.org/x/crypto/argon2, OWASP's minimum:
//     19 MiB, 2 passes, 1 lane) and compared in constant time. A login for an unknown
//     account still computes a hash, so timing does not tell which ids exist.
//   - Session and API tokens are 256-bit random strings; only their SHA-256 is stored (a
//     fast hash is enough for a secret with that much entropy) and it is the KV key, so an
//     authentication is one KV read plus the account read. A token is shown once, when it is
//     made; nothing here logs a token or a password.
//   - A session names its account and its expiry; deleting or disabling the account makes
//     all its sessions and tokens fail at once, without finding them.
package accounts
