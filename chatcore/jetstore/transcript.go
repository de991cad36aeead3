package jetstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Header names carried by every transcript record. The server adds its own Nats-* headers on
// reads; ours are prefixed so they can never collide.
const (
	hdrFirst  = "Chatgate-First-Index" // index of the record's first event
	hdrLast   = "Chatgate-Last-Index"  // index of the record's last event
	hdrPrev   = "Chatgate-Prev-Seq"    // stream sequence of the chat's previous record, 0 if none
	hdrOrigin = "Chatgate-Origin-Seq"  // stream sequence of the chat's first record, 0 on that record
)

// record is one stored message of the transcript stream: the events of one append call,
// indexes first..last, gapless.
type record struct {
	seq         uint64 // stream sequence
	prev        uint64 // previous record of the same chat, 0 for the first
	origin      uint64 // first record of the chat (its own seq for the first record)
	first, last int64
	data        []byte // JSON array of events
}

// position is what an append needs to know about a chat's last record.
type position struct {
	last   int64  // last index, 0 for an empty transcript
	seq    uint64 // stream sequence of the last record, 0 for an empty transcript
	origin uint64 // stream sequence of the chat's first record, 0 for an empty transcript
}

func (r record) position() position { return position{last: r.last, seq: r.seq, origin: r.origin} }

// scanPerHop is how many stream messages a forward subject scan can step over in the time of
// one direct-get round trip (≈100 ns per skipped message vs ≈20–40 µs per request in-process,
// measured by BenchmarkTranscriptRead). read chooses between the two with it.
const scanPerHop = 200

// transcripts is the CHAT_EVENTS stream: one subject per chat, one message per append call.
type transcripts struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream string
	// directGet is the direct-get API subject of the stream.
	directGet string
	// readBatch bounds how many records one forward direct-get round trip returns.
	readBatch int
	// forceScan / forceChain pin read's strategy (benchmarks compare them).
	forceScan, forceChain bool

	mu      sync.Mutex
	tail    map[string]position // chatID -> last known position, bounded by maxTail
	maxTail int
}

func newTranscripts(nc *nats.Conn, js jetstream.JetStream, stream string, maxTail int) *transcripts {
	return &transcripts{
		nc: nc, js: js, stream: stream,
		directGet: jetstream.DefaultAPIPrefix + "DIRECT.GET." + stream,
		readBatch: 256,
		tail:      make(map[string]position),
		maxTail:   max(maxTail, 1),
	}
}

func (t *transcripts) remember(chatID string, p position) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.tail[chatID]; !ok && len(t.tail) >= t.maxTail {
		// Evict an arbitrary entry: the cache only saves a round trip per append, so which
		// one goes does not matter for correctness.
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
	return p, ok
}

// lastRecord fetches the chat's last record (direct get by subject: the server finds it
// through its per-subject index without scanning). ok is false for an empty transcript.
func (t *transcripts) lastRecord(ctx context.Context, chatID string) (r record, ok bool, err error) {
	m, err := t.request(ctx, t.directGet+"."+transcriptSubject(chatID), nil)
	if err != nil || m == nil {
		return record{}, false, err
	}
	if r, err = parseRecord(m); err != nil {
		return record{}, false, err
	}
	t.remember(chatID, r.position())
	return r, true, nil
}

// recordAt fetches one record by stream sequence and checks it belongs to the chat.
func (t *transcripts) recordAt(ctx context.Context, chatID string, seq uint64) (record, error) {
	m, err := t.request(ctx, t.directGet, fmt.Appendf(nil, `{"seq":%d}`, seq))
	if err != nil {
		return record{}, err
	}
	if m == nil {
		return record{}, fmt.Errorf("%w: chat %s: record %d is missing", ErrCorrupt, chatID, seq)
	}
	if m.Header.Get(jetstream.SubjectHeader) != transcriptSubject(chatID) {
		return record{}, fmt.Errorf("%w: record %d belongs to %q, not chat %s", ErrCorrupt, seq, m.Header.Get(jetstream.SubjectHeader), chatID)
	}
	return parseRecord(m)
}

// request does one direct get; a nil message means "not found".
func (t *transcripts) request(ctx context.Context, subj string, body []byte) (*nats.Msg, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	m, err := t.nc.RequestWithContext(ctx, subj, body)
	if err != nil {
		return nil, unavailable("read transcript", err)
	}
	switch st := m.Header.Get("Status"); st {
	case "":
		return m, nil
	case "404":
		return nil, nil
	default:
		return nil, unavailable("read transcript", fmt.Errorf("status %s %s", st, m.Header.Get("Description")))
	}
}

// position returns the chat's last position, from the cache when possible.
func (t *transcripts) position(ctx context.Context, chatID string) (position, error) {
	if p, ok := t.cached(chatID); ok {
		return p, nil
	}
	r, _, err := t.lastRecord(ctx, chatID)
	return r.position(), err
}

// append stores events expectLast+1..last as one message, accepted by the server only if
// the chat's last stored record is still the one ending at index expectLast. One message per
// call makes a multi-event append atomic: all of its events or none.
func (t *transcripts) append(ctx context.Context, chatID string, expectLast, last int64, data []byte) (position, error) {
	p, err := t.position(ctx, chatID)
	if err != nil {
		return position{}, err
	}
	if p.last != expectLast {
		// The cache may be stale (another node appended, or an evicted entry); only the
		// server can tell.
		t.forget(chatID)
		r, _, err := t.lastRecord(ctx, chatID)
		if err != nil {
			return position{}, err
		}
		if p = r.position(); p.last != expectLast {
			return position{}, fmt.Errorf("%w: chat %s: expected last index %d, store has %d", ErrConflict, chatID, expectLast, p.last)
		}
	}
	m := nats.NewMsg(transcriptSubject(chatID))
	m.Header.Set(hdrFirst, strconv.FormatInt(expectLast+1, 10))
	m.Header.Set(hdrLast, strconv.FormatInt(last, 10))
	m.Header.Set(hdrPrev, strconv.FormatUint(p.seq, 10))
	m.Header.Set(hdrOrigin, strconv.FormatUint(p.origin, 10))
	m.Data = data
	ack, err := t.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(p.seq))
	if err != nil {
		t.forget(chatID)
		if isWrongLastSequence(err) {
			return position{}, fmt.Errorf("%w: chat %s: another writer appended after index %d", ErrConflict, chatID, expectLast)
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			return position{}, fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		if r := refused(err); r != nil {
			return position{}, fmt.Errorf("chat %s: %w", chatID, r)
		}
		// The outcome is unknown (for example a timeout after the server stored the
		// message); the caller re-reads the transcript to find out.
		return position{}, unavailable("append", err)
	}
	np := position{last: last, seq: ack.Sequence, origin: p.origin}
	if np.origin == 0 {
		np.origin = ack.Sequence
	}
	t.remember(chatID, np)
	return np, nil
}

// pageLimit bounds one transcript read: at most events events and bytes bytes of event
// JSON, counted from the first index read. A page always holds at least one event (an event
// larger than bytes is returned alone), so a reader paging through always progresses.
type pageLimit struct{ events, bytes int }

// noLimit reads everything from an index (tests and benchmarks).
var noLimit = pageLimit{events: math.MaxInt, bytes: math.MaxInt}

// eventBytes is the JSON size of the events of a record from index from on (the data is the
// events joined as "[e1,e2,...]" by AppendJSON, so each event is its bytes minus one
// separator; for a partial record this is an estimate by average event size). n is the
// number of those events.
func (r record) counted(from int64) (n int, bytes int) {
	total := r.last - r.first + 1
	k := total
	if from > r.first {
		k = r.last - from + 1
	}
	if k <= 0 {
		return 0, 0
	}
	b := len(r.data) - 1 - int(total) // "[" + events + (total-1) commas + "]"
	return int(k), max(0, b*int(k)/int(total))
}

// fills reports whether records recs (ascending, the first counted from index from)
// already hold a full page, and how many of them that page needs.
func (l pageLimit) fills(recs []record, from int64) (full bool, need int) {
	n, b := 0, 0
	for i, r := range recs {
		rn, rb := r.counted(from)
		n, b = n+rn, b+rb
		if n >= l.events || b >= l.bytes {
			return true, i + 1
		}
	}
	return false, len(recs)
}

// readPage returns, in order, the chat's records that hold the page of events starting at
// index from (see pageLimit): the first record contains from (or starts after it when from
// is below 1), the last may hold events past the page; the caller cuts. It never holds more
// than the page's records plus one in memory, whatever the transcript's length.
//
// Stream messages of one chat are interleaved with every other chat's, and the server finds
// "next message on subject" by scanning block contents, so a forward read costs the number
// of stream messages written during the chat's life (its span), however short the chat is.
// Each record therefore also points at its predecessor, and readPage walks that chain
// backwards from the last record with O(1) lookups by sequence when the page is near the end
// or the span is wide; it scans forward (batched, one round trip per readBatch records) when
// the page is near the start and the chat is dense in the stream. Both give the same result;
// the choice is only about cost.
func (t *transcripts) readPage(ctx context.Context, chatID string, from int64, lim pageLimit) ([]record, error) {
	from = max(from, 1)
	lim.events, lim.bytes = max(lim.events, 1), max(lim.bytes, 1)
	last, ok, err := t.lastRecord(ctx, chatID)
	if err != nil || !ok || last.last < from {
		return nil, err
	}
	if last.first <= from {
		return []record{last}, nil
	}
	// Walking back costs one round trip per record after from (at most one per event);
	// scanning forward costs the span skipped by the server plus one round trip per batch
	// of the records before from.
	hops := uint64(last.first - from)
	span := last.seq - last.origin
	scan := span/scanPerHop+uint64(from)/uint64(t.readBatch) <= hops
	if t.forceScan || t.forceChain {
		scan = t.forceScan
	}
	var recs []record
	if scan {
		recs, err = t.scanForward(ctx, chatID, last, from, lim)
	} else {
		recs, err = t.walkBack(ctx, chatID, last, from, lim)
	}
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].first != recs[i-1].last+1 {
			return nil, fmt.Errorf("%w: chat %s: index %d follows %d", ErrCorrupt, chatID, recs[i].first, recs[i-1].last)
		}
	}
	return recs, nil
}

// walkBack follows the back-pointer chain from last down to the record containing from,
// keeping only the records the page can still need: once the oldest records seen fill a
// page, every newer one is dropped.
func (t *transcripts) walkBack(ctx context.Context, chatID string, last record, from int64, lim pageLimit) ([]record, error) {
	win := []record{last} // ascending
	for r := last; r.first > from; {
		if r.prev == 0 {
			return nil, fmt.Errorf("%w: chat %s: record %d (index %d) has no predecessor", ErrCorrupt, chatID, r.seq, r.first)
		}
		var err error
		if r, err = t.recordAt(ctx, chatID, r.prev); err != nil {
			return nil, err
		}
		win = append(win, record{})
		copy(win[1:], win)
		win[0] = r
		if full, need := lim.fills(win, from); full {
			clear(win[need:])
			win = win[:need]
		}
	}
	return win, nil
}

// scanForward reads the chat's records from its first one (last.origin) with batched
// direct gets filtered by the chat's subject, skipping records before from and stopping once
// the page is full or last is reached.
func (t *transcripts) scanForward(ctx context.Context, chatID string, last record, from int64, lim pageLimit) ([]record, error) {
	subj := transcriptSubject(chatID)
	var out []record
	for start := last.origin; start < last.seq; {
		recs, more, err := t.scanBatch(ctx, subj, start)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if r.seq >= last.seq {
				return append(out, last), nil
			}
			if r.last >= from {
				out = append(out, r)
				if full, need := lim.fills(out, from); full {
					return out[:need], nil
				}
			}
		}
		if !more || len(recs) == 0 {
			break
		}
		start = recs[len(recs)-1].seq + 1
	}
	return append(out, last), nil
}

// scanBatchBytes bounds the bytes one forward round trip returns, so records skipped
// before a page cost bounded memory whatever their size.
const scanBatchBytes = 1 << 20

// scanBatch does one batched direct get: up to readBatch records of subj with stream
// sequence >= start. more reports that the server has further records. (The server ignores
// up_to_seq for single-subject batches, so the caller stops at its bound itself.)
func (t *transcripts) scanBatch(ctx context.Context, subj string, start uint64) (recs []record, more bool, err error) {
	inbox := t.nc.NewInbox()
	sub, err := t.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, false, unavailable("read transcript", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	req, err := json.Marshal(struct {
		Seq      uint64 `json:"seq"`
		NextFor  string `json:"next_by_subj"`
		Batch    int    `json:"batch"`
		MaxBytes int    `json:"max_bytes"`
	}{start, subj, t.readBatch, scanBatchBytes})
	if err != nil {
		return nil, false, fmt.Errorf("jetstore: read request: %w", err)
	}
	if err := t.nc.PublishRequest(t.directGet, inbox, req); err != nil {
		return nil, false, unavailable("read transcript", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, false, unavailable("read transcript", err)
		}
		switch m.Header.Get("Status") {
		case "":
		case "404": // nothing in range
			return recs, false, nil
		case "204": // end of batch
			pending, _ := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			return recs, pending > 0, nil
		default:
			return nil, false, unavailable("read transcript", fmt.Errorf("status %s %s", m.Header.Get("Status"), m.Header.Get("Description")))
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
		return record{}, fmt.Errorf("%w: record without sequence: %w", ErrCorrupt, err)
	}
	first, err1 := strconv.ParseInt(m.Header.Get(hdrFirst), 10, 64)
	last, err2 := strconv.ParseInt(m.Header.Get(hdrLast), 10, 64)
	prev, err3 := strconv.ParseUint(m.Header.Get(hdrPrev), 10, 64)
	origin, err4 := strconv.ParseUint(m.Header.Get(hdrOrigin), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || first < 1 || last < first || prev >= seq || origin >= seq {
		return record{}, fmt.Errorf("%w: record %d has headers %q", ErrCorrupt, seq, m.Header)
	}
	if origin == 0 {
		origin = seq
	}
	return record{seq: seq, prev: prev, origin: origin, first: first, last: last, data: bytes.Clone(m.Data)}, nil
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
