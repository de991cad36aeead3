// Package cookieauth is the browser side of the consoles' authentication: the session
// cookie, the CSRF token bound to it and the cross-origin checks (docs/consoles.md,
// "Security"). web/agentapi (agents, supervisors) and web/adminauth (admins) use it, so the
// two consoles follow one rule.
//
// # Why it is built this way
//
//   - The session token (already revocable and expiring where it is stored) travels in an
//     HttpOnly cookie, so a script injected into a console cannot read it; SameSite=Strict
//     keeps browsers from sending it on requests started by another site; Secure is set when
//     the request came over TLS (directly or behind a proxy that says
//     X-Forwarded-Proto: https), because a Secure cookie set over plain http is dropped.
//   - A cookie is ambient authority, so every state-changing request authenticated by it
//     must also carry X-CSRF-Token. The token is HMAC-SHA256 keyed with the session token
//     over a fixed label: it is bound to the session, needs no server key to share across the
//     cluster and no storage, cannot be computed without the cookie's value, and reading it
//     (the page's script does) tells nothing about the session token. It is compared in
//     constant time.
//   - On top of the token, net/http's CrossOriginProtection (Sec-Fetch-Site, then Origin
//     against Host) refuses a cross-origin state-changing request before its token is
//     looked at: two independent layers, the token being the one the issue asks for.
//   - Requests with Authorization: Bearer (desktops, bots, scripts) carry no ambient
//     authority and need no CSRF token; the callers check the bearer first and come here only
//     for the cookie.
package cookieauth
