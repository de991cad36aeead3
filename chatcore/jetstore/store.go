package jetstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/nats-io/nats.go/jetstream"
)

// Options tunes a Store. The zero value is fine.
type Options struct {
	// TailCache bounds how many chats' last transcript positions are cached (saves one
	// round trip per append). 0 means 100,000 (about 6 MB).
	TailCache int
	Logger    *slog.Logger

	// Quotas: the most bytes the transcripts (CHAT_EVENTS), the chat states (CHAT_STATE)
	// and the files (CHAT_FILES) may take in the engine, 0 for no quota of chatgate's own
	// (the engine's max_store still applies). A write that would pass one is refused with
	// ErrQuota and nothing older is discarded. Applied to an existing stream or bucket at
	// Open.
	MaxTranscriptBytes, MaxStateBytes, MaxFileBytes int64
	// MaxRecordsPerChat caps the records of one chat's transcript (0: no cap); a further
	// append is refused with ErrQuota. chatcore keeps its per-chat event limit below it.
	MaxRecordsPerChat int64
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
	keys   *keys
	log    *slog.Logger
	quota  Options
	// refusals counts writes refused with ErrQuota.
	refusals atomic.Uint64
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
	events, err := conn.Stream(ctx, eventsStreamConfig(o))
	if err != nil {
		return nil, openErr(EventsStream, o.MaxTranscriptBytes, err)
	}
	kv, err := conn.KV(ctx, stateBucketConfig(o))
	if err != nil {
		return nil, openErr(StateBucket, o.MaxStateBytes, err)
	}
	obs, err := conn.ObjectStore(ctx, filesBucketConfig(o))
	if err != nil {
		return nil, openErr(FilesBucket, o.MaxFileBytes, err)
	}
	kkv, err := conn.KV(ctx, keysBucketConfig())
	if err != nil {
		return nil, fmt.Errorf("jetstore: open: %w", err)
	}
	return &Store{
		conn:   conn,
		events: events,
		tr:     newTranscripts(conn.NC, conn.JS, EventsStream, o.TailCache),
		st:     &states{kv: kv},
		fl:     &files{obs: obs},
		keys:   &keys{kv: kkv},
		log:    log,
		quota:  o,
	}, nil
}

// openErr explains a stream or bucket the engine would not create or update: a quota is
// reserved in the engine, so one larger than its storage is refused (ErrQuota).
func openErr(name string, quota int64, err error) error {
	if refused(err) != nil && quota > 0 {
		return fmt.Errorf("jetstore: open %s: its quota of %d bytes does not fit the engine's storage (lower it, or give the engine more): %w", name, quota, refused(err))
	}
	return fmt.Errorf("jetstore: open %s: %w", name, err)
}

// RawEvent is one stored event: its transcript index and its JSON encoding.
type RawEvent struct {
	Index int64
	JSON  []byte
}

// FileMeta describes a stored file.
type FileMeta struct {
	Name        string            // original file name
	ContentType string            // MIME type as uploaded
	Size        int64             // bytes; filled in by PutFile
	Headers     map[string]string // extra attributes kept with the file
}

// CreateChat stores the first version of a chat's state. ErrConflict if the chat exists.
func (s *Store) CreateChat(ctx context.Context, chatID string, state []byte) (rev uint64, err error) {
	if err := checkID("chat", chatID); err != nil {
		return 0, err
	}
	rev, err = s.st.create(ctx, chatID, state)
	return rev, s.count(err)
}

// LoadChat returns a chat's state and its revision. ErrNotFound if there is none.
func (s *Store) LoadChat(ctx context.Context, chatID string) (state []byte, rev uint64, err error) {
	if err := checkID("chat", chatID); err != nil {
		return nil, 0, err
	}
	return s.st.get(ctx, chatID)
}

// SaveChat replaces a chat's state if it is still at revision rev (compare-and-set) and
// returns the new revision. ErrConflict if anyone changed it since.
func (s *Store) SaveChat(ctx context.Context, chatID string, state []byte, rev uint64) (newRev uint64, err error) {
	if err := checkID("chat", chatID); err != nil {
		return 0, err
	}
	newRev, err = s.st.update(ctx, chatID, state, rev)
	return newRev, s.count(err)
}

// EachChat calls fn with every stored chat state (start-up reload), in no particular order,
// and stops at fn's first error, which it returns.
func (s *Store) EachChat(ctx context.Context, fn func(chatID string, state []byte, rev uint64) error) error {
	return s.st.each(ctx, fn)
}

// DeleteChat removes a chat's files, transcript and state, in that order, so a failed
// delete leaves the chat visible and can be retried. Deleting a missing chat is not an
// error.
func (s *Store) DeleteChat(ctx context.Context, chatID string) error {
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

// AppendJSON appends events (one JSON value each) at indexes afterIndex+1, afterIndex+2, ...
// as one record: all of them or none. It fails with ErrConflict, writing nothing, unless the
// chat's transcript currently ends at afterIndex (0 for an empty transcript). With
// ErrUnavailable the outcome is unknown; LastIndex tells.
func (s *Store) AppendJSON(ctx context.Context, chatID string, afterIndex int64, events [][]byte) error {
	if err := checkID("chat", chatID); err != nil {
		return err
	}
	if len(events) == 0 {
		return nil
	}
	if afterIndex < 0 {
		return fmt.Errorf("%w: negative index %d", ErrInvalid, afterIndex)
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
	return s.count(err)
}

// EventsPage returns the chat's events from index from on, ascending and gapless, at most
// maxEvents of them and at most maxBytes bytes of event JSON in total, except that a page
// holds at least one event (an event over maxBytes comes alone). None for an unknown chat or
// a from beyond the end. A caller that got n events continues from their last index + 1;
// the transcript is complete when that passes LastIndex. The store never reads more than the
// page's records (plus one) into memory, however long the transcript is.
func (s *Store) EventsPage(ctx context.Context, chatID string, from int64, maxEvents, maxBytes int) ([]RawEvent, error) {
	if err := checkID("chat", chatID); err != nil {
		return nil, err
	}
	if maxEvents <= 0 || maxBytes <= 0 {
		return nil, fmt.Errorf("%w: page of %d events, %d bytes", ErrInvalid, maxEvents, maxBytes)
	}
	from = max(from, 1)
	recs, err := s.tr.readPage(ctx, chatID, from, pageLimit{events: maxEvents, bytes: maxBytes})
	if err != nil {
		return nil, err
	}
	var out []RawEvent
	size := 0
	for _, r := range recs {
		var evs []json.RawMessage
		if err := json.Unmarshal(r.data, &evs); err != nil {
			return nil, fmt.Errorf("%w: chat %s record %d: %w", ErrCorrupt, chatID, r.seq, err)
		}
		if int64(len(evs)) != r.last-r.first+1 {
			return nil, fmt.Errorf("%w: chat %s record %d: %d events for indexes %d..%d", ErrCorrupt, chatID, r.seq, len(evs), r.first, r.last)
		}
		for i, e := range evs {
			idx := r.first + int64(i)
			if idx < from {
				continue
			}
			if len(out) == maxEvents || len(out) > 0 && size+len(e) > maxBytes {
				return out, nil
			}
			size += len(e)
			out = append(out, RawEvent{Index: idx, JSON: e})
		}
	}
	return out, nil
}

// LastIndex is the chat's last transcript index (0 when it has no events). It always asks
// the server, so it settles an append whose outcome was unknown.
func (s *Store) LastIndex(ctx context.Context, chatID string) (int64, error) {
	if err := checkID("chat", chatID); err != nil {
		return 0, err
	}
	r, _, err := s.tr.lastRecord(ctx, chatID)
	return r.last, err
}

// PutFile stores a file's bytes (read to EOF) under the chat. Limits are the caller's job.
func (s *Store) PutFile(ctx context.Context, chatID, fileID string, meta FileMeta, r io.Reader) (FileMeta, error) {
	if err := checkID("chat", chatID); err != nil {
		return FileMeta{}, err
	}
	if err := checkID("file", fileID); err != nil {
		return FileMeta{}, err
	}
	n, err := s.fl.put(ctx, chatID, fileID, meta, r)
	if err != nil {
		return FileMeta{}, s.count(err)
	}
	meta.Size = n
	return meta, nil
}

// OpenFile returns a stored file's description and contents; close the reader.
// ErrNotFound if there is no such file.
func (s *Store) OpenFile(ctx context.Context, chatID, fileID string) (FileMeta, io.ReadCloser, error) {
	if err := checkID("chat", chatID); err != nil {
		return FileMeta{}, nil, err
	}
	if err := checkID("file", fileID); err != nil {
		return FileMeta{}, nil, err
	}
	return s.fl.get(ctx, chatID, fileID)
}

// DeleteFile removes a stored file. ErrNotFound if there is no such file.
func (s *Store) DeleteFile(ctx context.Context, chatID, fileID string) error {
	if err := checkID("chat", chatID); err != nil {
		return err
	}
	if err := checkID("file", fileID); err != nil {
		return err
	}
	return s.fl.remove(ctx, chatID, fileID)
}

// deleteFiles removes every stored file of a chat. The object store has no listing by
// prefix (names are encoded in subjects), so this walks the bucket's metadata: O(files in
// the bucket), acceptable for the rare chat deletion.
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

// count records a write refused for a quota (logged: an operator must make room).
func (s *Store) count(err error) error {
	if errors.Is(err, ErrQuota) {
		s.refusals.Add(1)
		s.log.Warn("jetstore: write refused: store quota reached", "err", err)
	}
	return err
}

// Usage is what the store holds now against its quotas (Options; 0 = no quota).
type Usage struct {
	TranscriptBytes, StateBytes, FileBytes          uint64
	MaxTranscriptBytes, MaxStateBytes, MaxFileBytes int64
	// QuotaRefusals counts writes refused with ErrQuota since Open.
	QuotaRefusals uint64
}

// Usage asks the engine how many bytes the transcripts, states and files take (three API
// round trips; meant for a metrics scrape).
func (s *Store) Usage(ctx context.Context) (Usage, error) {
	u := Usage{
		MaxTranscriptBytes: max(0, s.quota.MaxTranscriptBytes), MaxStateBytes: max(0, s.quota.MaxStateBytes),
		MaxFileBytes: max(0, s.quota.MaxFileBytes), QuotaRefusals: s.refusals.Load(),
	}
	info, err := s.events.Info(ctx)
	if err != nil {
		return u, unavailable("stream info", err)
	}
	u.TranscriptBytes = info.State.Bytes
	kvs, err := s.st.kv.Status(ctx)
	if err != nil {
		return u, unavailable("state bucket status", err)
	}
	u.StateBytes = kvs.Bytes()
	obs, err := s.fl.obs.Status(ctx)
	if err != nil {
		return u, unavailable("files bucket status", err)
	}
	u.FileBytes = obs.Size()
	return u, nil
}
