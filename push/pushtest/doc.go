// Package pushtest holds local fakes of the push providers, speaking each provider's real
// wire protocol on loopback, and a manual clock. Tests of package push, web/pushlink and
// the end-to-end tests use them; benchmarks measure against them.
//
// Why fakes that verify everything a real provider verifies: a push that a real APNs would
// refuse (bad JWT, wrong topic, HTTP/1.1) or a Web Push payload that a browser could not
// decrypt must fail the test, not pass it. So the APNs fake is an HTTP/2-only TLS server
// that checks the ES256 provider token (or the client certificate) and answers with
// Apple's status codes and reasons; the FCM fake checks the OAuth2 access token it issued
// from a real JWT-bearer exchange; the Web Push fake verifies the VAPID JWT and decrypts
// the RFC 8291 aes128gcm body with the subscription's private key.
package pushtest
