package jetstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Header names carried by every transcript record. The server adds its own Nats-* headers on
// reads; ours are prefixed so they can never collide.
const (
	hdrFirst = "Chatgate-First-Index" // index of the record's first event
	hdrLast  = "Chatgate-Last-Index"  // index of the record's last event
)

// errConflict is the transcript-level "someone else appended first" outcome; the Store maps
// it to chatcore.ErrConflict.
var errConflict = errors.New("jetstore: transcript changed since the expected index")

// record is one stored message of the transcript stream: the events of one append call,
// indexes first..last, gapless.
type record struct {
	seq         uint64 // stream sequence
	first, last int64
	data        []byte // JSON array of events
}

// position is a known (last index, stream sequence) pair of a chat's transcript.
type position struct {
	last int64
	seq  uint64
}

// transcripts is the CHAT_EVENTS stream: one subject per chat, one message per append call.
type transcripts struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream string
	// directGet is the batch direct-get API subject of the stream.
	directGet string
	// readBatch bounds how many records one direct-get round trip returns.
	readBatch int

	mu       sync.Mutex
	tail     map[string]position // chatID -> last known position, bounded by maxTail
	maxTail  int
	cacheHit uint64 // counted for tests and metrics
}

func newTranscripts(nc *nats.Conn, js jetstream.JetStream, stream string, maxTail int) *transcripts {
	return &transcripts{
		nc: nc, js: js, stream: stream,
		directGet: jetstream.DefaultAPIPrefix + "DIRECT.GET." + stream,
		readBatch: 256,
		tail:      make(map[string]position),
		maxTail:   maxTail,
	}
}

func (t *transcripts) remember(chatID string, p position) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.tail[chatID]; !ok && len(t.tail) >= t.maxTail {
		// Evict an arbitrary entry: the cache only saves a round trip, so which one goes
		// does not matter for correctness.
		for k := range t.tail {
			delete(t.tail, k)
			break
		}
	}
	t.tail[chatID] = p
}

func (t *transcripts) forget(chatID string) {
	t.mu.Lock()
	delete(t.tail, chatID)
	t.mu.Unlock()
}

func (t *transcripts) cached(chatID string) (position, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.tail[chatID]
	if ok {
		t.cacheHit++
	}
	return p, ok
}

// lastPosition asks the server for the chat's last record (direct get by subject).
// A chat without events is position{0, 0}.
func (t *transcripts) lastPosition(ctx context.Context, chatID string) (position, error) {
	subj := transcriptSubject(chatID)
	m, err := t.js.Conn().RequestWithContext(ctx, t.directGet+"."+subj, nil)
	if err != nil {
		return position{}, unavailable("last record", err)
	}
	if st := m.Header.Get("Status"); st != "" {
		if st == "404" {
			return position{}, nil
		}
		return position{}, unavailable("last record", fmt.Errorf("status %s %s", st, m.Header.Get("Description")))
	}
	r, err := parseRecord(m)
	if err != nil {
		return position{}, err
	}
	p := position{last: r.last, seq: r.seq}
	t.remember(chatID, p)
	return p, nil
}

// position returns the chat's last position, from the cache when possible.
func (t *transcripts) position(ctx context.Context, chatID string) (position, error) {
	if p, ok := t.cached(chatID); ok {
		return p, nil
	}
	return t.lastPosition(ctx, chatID)
}

// append stores events first..last (first = expectLast+1) as one message, accepted by the
// server only if the chat's last stored record is still the one with index expectLast. One
// message per call makes a multi-event append atomic: all events or none.
func (t *transcripts) append(ctx context.Context, chatID string, expectLast, last int64, data []byte) (uint64, error) {
	p, err := t.position(ctx, chatID)
	if err != nil {
		return 0, err
	}
	if p.last != expectLast {
		// The cache may be stale (another node appended, or our entry was evicted and a
		// newer one re-read); only the server can tell.
		t.forget(chatID)
		if p, err = t.lastPosition(ctx, chatID); err != nil {
			return 0, err
		}
		if p.last != expectLast {
			return 0, fmt.Errorf("%w: chat %s expected last index %d, store has %d", errConflict, chatID, expectLast, p.last)
		}
	}
	m := nats.NewMsg(transcriptSubject(chatID))
	m.Header.Set(hdrFirst, strconv.FormatInt(expectLast+1, 10))
	m.Header.Set(hdrLast, strconv.FormatInt(last, 10))
	m.Data = data
	ack, err := t.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(p.seq))
	if err != nil {
		t.forget(chatID)
		if isWrongLastSequence(err) {
			return 0, fmt.Errorf("%w: chat %s: another writer appended after index %d", errConflict, chatID, expectLast)
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			return 0, fmt.Errorf("%w: %w", errTooLarge, err)
		}
		// The outcome is unknown (for example a timeout after the server stored the
		// message); the caller re-reads the transcript to find out.
		return 0, unavailable("append", err)
	}
	t.remember(chatID, position{last: last, seq: ack.Sequence})
	return ack.Sequence, nil
}

// read returns the chat's records that contain an index >= from, in order, using batched
// direct gets (one round trip per readBatch records; no consumer is created).
func (t *transcripts) read(ctx context.Context, chatID string, from int64) ([]record, error) {
	subj := transcriptSubject(chatID)
	var start uint64 = 1
	// A cached position before `from` is a safe lower bound: every later index has a
	// higher stream sequence, whoever wrote it.
	if p, ok := t.cached(chatID); ok && p.last < from && p.seq > 0 {
		start = p.seq + 1
	}
	var out []record
	for {
		recs, more, err := t.readBatchFrom(ctx, subj, start)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if n := len(out); n > 0 && r.first != out[n-1].last+1 {
				return nil, fmt.Errorf("%w: chat %s: index %d follows %d", errCorrupt, chatID, r.first, out[n-1].last)
			}
			if r.last >= from {
				out = append(out, r)
			}
		}
		if len(recs) > 0 {
			start = recs[len(recs)-1].seq + 1
		}
		if !more || len(recs) == 0 {
			break
		}
	}
	if n := len(out); n > 0 {
		t.remember(chatID, position{last: out[n-1].last, seq: out[n-1].seq})
	}
	return out, nil
}

// readBatchFrom does one batched direct get: up to readBatch records of subj with stream
// sequence >= start. more reports that the server has further records.
func (t *transcripts) readBatchFrom(ctx context.Context, subj string, start uint64) (recs []record, more bool, err error) {
	inbox := t.nc.NewInbox()
	sub, err := t.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, false, unavailable("read", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	req, err := json.Marshal(struct {
		Seq     uint64 `json:"seq"`
		NextFor string `json:"next_by_subj"`
		Batch   int    `json:"batch"`
	}{start, subj, t.readBatch})
	if err != nil {
		return nil, false, fmt.Errorf("jetstore: read request: %w", err)
	}
	if err := t.nc.PublishRequest(t.directGet, inbox, req); err != nil {
		return nil, false, unavailable("read", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, false, unavailable("read", err)
		}
		switch m.Header.Get("Status") {
		case "":
		case "404": // no (more) records
			return recs, false, nil
		case "204": // end of batch
			pending, _ := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			return recs, pending > 0, nil
		default:
			return nil, false, unavailable("read", fmt.Errorf("status %s %s", m.Header.Get("Status"), m.Header.Get("Description")))
		}
		r, err := parseRecord(m)
		if err != nil {
			return nil, false, err
		}
		recs = append(recs, r)
	}
}

// purge removes every record of the chat.
func (t *transcripts) purge(ctx context.Context, s jetstream.Stream, chatID string) error {
	t.forget(chatID)
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(transcriptSubject(chatID))); err != nil {
		return unavailable("purge transcript", err)
	}
	return nil
}

func parseRecord(m *nats.Msg) (record, error) {
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return record{}, fmt.Errorf("%w: record without sequence: %w", errCorrupt, err)
	}
	first, err1 := strconv.ParseInt(m.Header.Get(hdrFirst), 10, 64)
	last, err2 := strconv.ParseInt(m.Header.Get(hdrLast), 10, 64)
	if err1 != nil || err2 != nil || first < 1 || last < first {
		return record{}, fmt.Errorf("%w: record %d has indexes %q..%q", errCorrupt, seq, m.Header.Get(hdrFirst), m.Header.Get(hdrLast))
	}
	return record{seq: seq, first: first, last: last, data: bytes.Clone(m.Data)}, nil
}

// isWrongLastSequence reports the server's compare-and-set rejection: code 10071 on R1
// streams, 10164 on replicated ones.
func isWrongLastSequence(err error) bool {
	var jerr jetstream.JetStreamError
	if errors.As(err, &jerr) && jerr.APIError() != nil {
		switch jerr.APIError().ErrorCode {
		case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
			return true
		}
	}
	return false
}
