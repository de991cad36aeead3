// Package download serves a file that a chat participant uploaded to another participant's
// browser.
//
// # Why it is built this way
//
// The Content-Type of an upload is whatever the uploading client claimed, so a file is
// served as an inert attachment: only passive media types are kept (else
// application/octet-stream), with nosniff and a sandboxing CSP, so that an uploaded page or
// SVG never runs script in the server's origin. The customer's path (web/gmschat) and the
// agent's (web/agentapi) serve files through this one piece of code, so the rule cannot
// drift between them.
package download
