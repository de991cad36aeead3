// Package archtest enforces the dependency direction of docs/architecture.md as a test, so
// a wrong import fails `make test` instead of waiting for a reviewer:
//
//	cmd → web → {bayeux, chatcore, push, widget} → internal
//
// chatcore imports none of web, bayeux or push; bayeux knows nothing of chats; push nothing
// of Bayeux; chatcore/routing may import chatcore, never the reverse; widget imports nothing
// of the server; cmd/chatgate-load talks to a server over the wire only.
//
// Why a package and not a linter config: the rule is a dozen lines of Go over
// `go list -json` (the go command's own view of the build, build tags and all), it needs no
// extra tool, and its table test shows each rule rejecting the import it forbids. Only
// non-test imports are checked: tests legitimately stand up the real lower layers (an
// embedded NATS server, a bayeux.Server) to test a package the way it runs.
package archtest
