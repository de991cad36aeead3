// Command chatgate runs the chatgate server: the GMS-compatible chat gateway (REST and
// CometD/Bayeux), the chat core and its store, in one process.
//
// This package only wires: it loads the configuration (internal/config), builds the logger,
// starts the store (internal/natsserver: embedded NATS JetStream, or an external cluster),
// builds the Bayeux server and the HTTP surface (web), listens, and on SIGINT/SIGTERM shuts
// everything down in the order that loses nothing: readiness off, held long-polls answered
// and websockets closed with reconnect advice, HTTP server stopped, store flushed and closed.
// A second signal exits at once. Business rules live in the packages it wires, never here.
//
// Usage:
//
//	chatgate [flags]                       run the server (see docs/configuration.md)
//	chatgate healthcheck [--addr host:port] GET /healthz and exit 0 if it answers 200
//
// Exit status: 0 after a graceful shutdown, 1 on a runtime failure or a forced (second
// signal) exit, 2 on invalid configuration or usage.
package main
