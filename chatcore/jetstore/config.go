package jetstore

import "github.com/nats-io/nats.go/jetstream"

// MaxRecordBytes is the largest transcript record (one append) the stream accepts: the NATS
// server's default maximum payload. An operation's events are far smaller (chatcore bounds a
// message to 16 KiB); the stream refuses anything larger itself, whatever a writer does.
const MaxRecordBytes = 1 << 20

// limit turns "0 = none" into JetStream's -1.
func limit(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// eventsStreamConfig is the transcript stream. Replicas are filled in by natsserver.Conn
// (1 embedded, 3 external by default).
func eventsStreamConfig(o Options) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        EventsStream,
		Description: "chatgate transcripts: one subject per chat, one message per append",
		Subjects:    []string{transcriptSubjects},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		// Transcripts are kept until the chat is deleted: nothing is ever discarded to make
		// room. At a limit the new append is refused (ErrQuota) and the old events stay.
		Discard:  jetstream.DiscardNew,
		MaxMsgs:  -1,
		MaxBytes: limit(o.MaxTranscriptBytes),
		MaxAge:   0,
		// A backstop for chatcore's per-chat event limit: one record holds at least one
		// event, so a chat can never have more records than this, even if a writer ignores
		// chatcore's own check.
		MaxMsgsPerSubject:    limit(o.MaxRecordsPerChat),
		DiscardNewPerSubject: o.MaxRecordsPerChat > 0,
		MaxMsgSize:           MaxRecordBytes,
		// Direct gets serve reads without creating consumers.
		AllowDirect: true,
		// Appends are compare-and-set on the subject's last sequence; message-id
		// deduplication is not used (a retry with the same id from another writer would be
		// acknowledged as a duplicate instead of rejected as a conflict).
		DenyDelete: true,
	}
}
