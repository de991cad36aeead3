package jetstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/nats-io/nats.go/jetstream"
)

// Options tunes a Store. The zero value is fine.
type Options struct {
	// TailCache bounds how many chats' last transcript positions are cached (saves one
	// round trip per append). 0 means 100,000 (about 6 MB).
	TailCache int
	Logger    *slog.Logger
}

// Store keeps chats in NATS JetStream: transcripts in the CHAT_EVENTS stream, chat state in
// the CHAT_STATE KV bucket, files in the CHAT_FILES object store. It is safe for concurrent
// use; it does not own the connection (close the natsserver.Conn after the Store's users).
type Store struct {
	conn   *natsserver.Conn
	events jetstream.Stream
	tr     *transcripts
	st     *states
	fl     *files
	log    *slog.Logger
}

// Open creates (or updates) the stream and buckets, idempotently, and returns the Store.
func Open(ctx context.Context, conn *natsserver.Conn, o Options) (*Store, error) {
	if o.TailCache <= 0 {
		o.TailCache = 100_000
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	events, err := conn.Stream(ctx, eventsStreamConfig())
	if err != nil {
		return nil, mapErr(fmt.Errorf("jetstore: open: %w", err))
	}
	kv, err := conn.KV(ctx, stateBucketConfig())
	if err != nil {
		return nil, mapErr(fmt.Errorf("jetstore: open: %w", err))
	}
	obs, err := conn.ObjectStore(ctx, filesBucketConfig())
	if err != nil {
		return nil, mapErr(fmt.Errorf("jetstore: open: %w", err))
	}
	return &Store{
		conn:   conn,
		events: events,
		tr:     newTranscripts(conn.NC, conn.JS, EventsStream, o.TailCache),
		st:     &states{kv: kv},
		fl:     &files{obs: obs},
		log:    log,
	}, nil
}

// deleteFiles removes every stored file of a chat.
func (s *Store) deleteFiles(ctx context.Context, chatID string) error {
	list, err := s.fl.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil
	}
	if err != nil {
		return unavailable("list files", err)
	}
	prefix := chatID + "/"
	for _, info := range list {
		if len(info.Name) > len(prefix) && info.Name[:len(prefix)] == prefix {
			if err := s.fl.obs.Delete(ctx, info.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				return unavailable("delete file", err)
			}
		}
	}
	return nil
}

// mapErr is replaced by the chatcore error mapping once chatcore's sentinels exist.
func mapErr(err error) error { return err }

// rawEvent is one stored event: its transcript index and its JSON encoding.
type rawEvent struct {
	Index int64
	JSON  []byte
}

// appendRaw appends events (JSON each) at afterIndex+1, afterIndex+2, ... as one record.
func (s *Store) appendRaw(ctx context.Context, chatID string, afterIndex int64, events [][]byte) error {
	if err := checkID("chat", chatID); err != nil {
		return err
	}
	if len(events) == 0 {
		return nil
	}
	if afterIndex < 0 {
		return fmt.Errorf("%w: negative index %d", errBadID, afterIndex)
	}
	n := 1
	for _, e := range events {
		n += len(e) + 1
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	for i, e := range events {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, e...)
	}
	buf = append(buf, ']')
	_, err := s.tr.append(ctx, chatID, afterIndex, afterIndex+int64(len(events)), buf)
	return err
}

// eventsRaw returns the chat's events with index >= from, ascending and gapless.
func (s *Store) eventsRaw(ctx context.Context, chatID string, from int64) ([]rawEvent, error) {
	if err := checkID("chat", chatID); err != nil {
		return nil, err
	}
	recs, err := s.tr.read(ctx, chatID, from)
	if err != nil {
		return nil, err
	}
	var out []rawEvent
	for _, r := range recs {
		var evs []json.RawMessage
		if err := json.Unmarshal(r.data, &evs); err != nil {
			return nil, fmt.Errorf("%w: chat %s record %d: %w", errCorrupt, chatID, r.seq, err)
		}
		if int64(len(evs)) != r.last-r.first+1 {
			return nil, fmt.Errorf("%w: chat %s record %d: %d events for indexes %d..%d", errCorrupt, chatID, r.seq, len(evs), r.first, r.last)
		}
		for i, e := range evs {
			if idx := r.first + int64(i); idx >= from {
				out = append(out, rawEvent{Index: idx, JSON: e})
			}
		}
	}
	return out, nil
}

// lastIndex is the chat's last transcript index (0 when it has no events). It always asks
// the server, so it is the way to settle an append whose outcome was unknown.
func (s *Store) lastIndex(ctx context.Context, chatID string) (int64, error) {
	if err := checkID("chat", chatID); err != nil {
		return 0, err
	}
	r, _, err := s.tr.lastRecord(ctx, chatID)
	return r.last, err
}

// deleteChat removes a chat's state, transcript and files.
func (s *Store) deleteChat(ctx context.Context, chatID string) error {
	if err := checkID("chat", chatID); err != nil {
		return err
	}
	if err := s.deleteFiles(ctx, chatID); err != nil {
		return err
	}
	if err := s.tr.purge(ctx, s.events, chatID); err != nil {
		return err
	}
	return s.st.remove(ctx, chatID)
}
