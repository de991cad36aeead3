package jetstore

import "github.com/nats-io/nats.go/jetstream"

// eventsStreamConfig is the transcript stream. Replicas are filled in by natsserver.Conn
// (1 embedded, 3 external by default).
func eventsStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        EventsStream,
		Description: "chatgate transcripts: one subject per chat, one message per append",
		Subjects:    []string{transcriptSubjects},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardNew,
		// Transcripts are kept until the chat is deleted; no age or count limits.
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxAge:            0,
		MaxMsgsPerSubject: -1,
		// Direct gets serve reads without creating consumers.
		AllowDirect: true,
		// Appends are compare-and-set on the subject's last sequence; message-id
		// deduplication is not used (a retry with the same id from another writer would be
		// acknowledged as a duplicate instead of rejected as a conflict).
		DenyDelete: true,
	}
}
