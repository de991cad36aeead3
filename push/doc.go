// Package push wakes chat participants who are not connected. It is a generic dispatcher:
// it knows push providers (Web Push, APNs, FCM HTTP v1, custom HTTP), their credentials and
// their error vocabularies, and nothing about chats, Bayeux or HTTP routing.
//
// Why a dispatcher instead of calling providers inline: an agent message must not wait for
// Apple or Google. Enqueue puts a notification into a bounded queue (overflow is an explicit
// ErrQueueFull, logged and counted); a fixed worker pool sends, each provider kind limited to
// its own concurrency so a slow provider cannot starve the others. Transient failures (429,
// 5xx, network) are retried with exponential backoff and jitter on the injected Clock,
// honouring Retry-After; permanent failures that mean "this device is gone" (APNs 410 /
// BadDeviceToken / Unregistered, FCM UNREGISTERED or an invalid token, Web Push 404/410)
// end with OutcomeDead so the caller can forget the subscription. Reliable delivery
// (GCTI_GMS_PushResend) resends a delivered notification every Resend.Delay until Ack.
//
// Providers are built from Credentials by a Registry; replacing a credential (for example
// through the admin API and its KV watch) swaps the provider without a restart, and the next
// notification uses it; a write's store revision orders the swaps, so a late KV delivery
// of an earlier write cannot put an old (for example a rotated-out VAPID) key back. APNs
// keeps exactly one client and one token per credential, because Apple throttles token
// refreshes and treats reconnect storms as abuse.
//
// What a credential shows (CredentialInfo) is its public half only: the fingerprint is the
// SHA-256 of the certificate or public key, so it matches what openssl computes from the
// file on the operator's desk, and a digest of the secret never leaves the package (the
// Registry uses one internally to tell an unchanged credential).
//
// FCM goes through the Firebase Admin SDK (firebase.google.com/go/v4/messaging) with our own
// HTTP client and exactly one HTTP exchange per Send: the SDK's built-in retries are cut
// off, because the dispatcher's backoff must be the only retry schedule (a worker waiting
// inside the SDK is a worker the other notifications do not get). See docs/push.md §6.
package push
