// Package natsserver gives chatgate its one storage and messaging engine: NATS JetStream,
// either embedded in the chatgate process (the default: one command, nothing to install) or
// an external NATS cluster reached by URL (scale-out across machines).
//
// Both modes return the same handle, a *Conn, so that every package above it (the chat
// store, options, push credentials, cross-node fan-out) has a single code path, and tests
// exercise that exact path against a real in-process server instead of a fake.
//
// Embedded mode starts nats-server with JetStream file storage under Options.DataDir, with
// no network listener unless one is asked for (the client connects in-process), and with an
// explicit sync policy: "background" (the default) writes every acknowledged message to the
// operating system before the acknowledgement, so it survives a killed process, and fsyncs
// on an interval; "always" fsyncs every write before acknowledging it, which also survives a
// power cut at a large throughput cost. The choice is documented in docs/storage.md.
//
// Readiness (Conn.Ready) asks whether the store can write, not merely answer: a file store
// that hit a write error (too many open files, disk full) keeps answering reads and account
// info while refusing every write. So Ready writes and reads back one key of a health
// bucket, at most once per second. In embedded mode the server's "Critical write error"
// log line also marks the store failed and triggers a restart of the embedded server in
// the process (nats-server keeps such an error for the life of the stream; a restart
// reloads it from its files). The client reconnects by itself because it dials through a
// provider that always points at the current server; nothing above this package sees a
// new handle.
//
// External mode never touches local disk; streams and buckets get Options.Replicas replicas
// (R3 by default) so an acknowledged write is on a quorum of servers.
package natsserver
