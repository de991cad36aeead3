package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/chatcore"
)

// Defaults of Config.
const (
	DefaultStream         = "FEED"
	DefaultSubjectPrefix  = "feed"
	DefaultMaxAge         = 7 * 24 * time.Hour
	DefaultMaxBytes       = 1 << 30
	DefaultPublishTimeout = 5 * time.Second
)

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("feed: invalid configuration")

// Config configures Open.
type Config struct {
	// JS is the JetStream the feed stream lives in (required).
	JS jetstream.JetStream
	// Replicas of the stream (0: 1).
	Replicas int
	// MaxAge and MaxBytes bound the stream: older records, and the oldest past the size,
	// are discarded by JetStream (0: DefaultMaxAge / DefaultMaxBytes).
	MaxAge   time.Duration
	MaxBytes int64
	// PublishTimeout bounds one record's store write (0: DefaultPublishTimeout).
	PublishTimeout time.Duration
	// Now stamps property-change records (nil: time.Now). The chat core's clock belongs here.
	Now    func() time.Time
	Logger *slog.Logger
}

// Feed records the chat core's committed events, property and userData changes and purges
// in a JetStream stream; it is a chatcore.Listener, ChangeListener and PurgeListener.
type Feed struct {
	js       jetstream.JetStream
	stream   jetstream.Stream
	name     string
	timeout  time.Duration
	maxAge   time.Duration
	now      func() time.Time
	log      *slog.Logger
	recorded atomic.Uint64
	failed   atomic.Uint64
	kinds    sync.Map // record kind → *atomic.Uint64: the recorded ones by kind

}

// Stats are the feed's counters.
type Stats struct {
	// Recorded is the number of records stored; Failed the number the store refused or did
	// not acknowledge in time (each is logged: those records are missing from the feed).
	Recorded, Failed uint64
	// ByKind splits Recorded by record kind (event, properties, ...).
	ByKind map[string]uint64
}

// Open creates or updates the feed stream.
func Open(ctx context.Context, cfg Config) (*Feed, error) {
	if cfg.JS == nil {
		return nil, fmt.Errorf("%w: JS is required", ErrConfig)
	}
	f := &Feed{js: cfg.JS, name: DefaultStream, timeout: cfg.PublishTimeout, now: cfg.Now, log: cfg.Logger}
	if f.timeout <= 0 {
		f.timeout = DefaultPublishTimeout
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	maxAge, maxBytes, replicas := cfg.MaxAge, cfg.MaxBytes, cfg.Replicas
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if replicas <= 0 {
		replicas = 1
	}
	s, err := cfg.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        f.name,
		Description: "chatgate event feed: committed chat events and interaction property changes",
		Subjects:    []string{DefaultSubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      maxAge,
		MaxBytes:    maxBytes,
		Replicas:    replicas,
		Duplicates:  2 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("feed stream %s: %w", f.name, err)
	}
	f.stream, f.maxAge = s, maxAge
	return f, nil
}

// Subject is the feed subject of a chat's records of a kind: feed.<chatId>.event or
// feed.<chatId>.properties (feed.<chatId>.* is all of a chat's records). Backfill looks up
// the last event record alone, whatever property records followed it.
func Subject(chatID, kind string) string {
	return DefaultSubjectPrefix + "." + subjectToken(chatID) + "." + kind
}

// Stats returns the counters.
func (f *Feed) Stats() Stats {
	st := Stats{Recorded: f.recorded.Load(), Failed: f.failed.Load(), ByKind: map[string]uint64{}}
	f.kinds.Range(func(k, v any) bool {
		st.ByKind[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return st
}

// OnEvent records a committed event. The write is synchronous so that a chat's records are
// stored in the chat's commit order (the core delivers one chat's commits one at a time).
func (f *Feed) OnEvent(v chatcore.ChatView, ev chatcore.Event) {
	// The message id makes JetStream drop a second copy of the same event within the
	// duplicate window (a re-delivery after a store timeout that had in fact succeeded).
	f.publish(eventRecord(v, ev), v.ID+":"+strconv.FormatInt(ev.Index, 10))
}

// OnProperties records the new values of changed properties. The core calls OnChange
// instead (Feed is a chatcore.ChangeListener); Backfill uses this for a chat's current
// properties, whose old values it does not know.
func (f *Feed) OnProperties(v chatcore.ChatView, changed map[string]string) {
	f.publish(propsRecord(v, changed, f.now()), "")
}

// OnChange records a commit's change of the properties (old and new values) and of the
// userData (secret keys redacted), in this order.
func (f *Feed) OnChange(v chatcore.ChatView, ch chatcore.Change) {
	for _, r := range changeRecords(v, ch, f.now()) {
		f.publish(r, "")
	}
}

// OnPurged records that retention purged a chat. The message id makes a repeated
// notification of the same purge within the duplicate window one record.
func (f *Feed) OnPurged(v chatcore.ChatView, at time.Time) {
	f.publish(purgeRecord(v, at), v.ID+":purged")
}

func (f *Feed) publish(r Record, msgID string) {
	b, err := json.Marshal(r)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
		var opts []jetstream.PublishOpt
		if msgID != "" {
			opts = append(opts, jetstream.WithMsgID(msgID))
		}
		_, err = f.js.Publish(ctx, Subject(r.ChatID, r.Kind), b, opts...)
		cancel()
	}
	if err != nil {
		f.failed.Add(1)
		f.log.Error("feed: record not stored", "chat", r.ChatID, "kind", r.Kind, "index", r.LastIndex, "err", err)
		return
	}
	n, _ := f.kinds.LoadOrStore(r.Kind, new(atomic.Uint64))
	n.(*atomic.Uint64).Add(1)
	f.recorded.Add(1)
}

var (
	_ chatcore.ChangeListener = (*Feed)(nil)
	_ chatcore.PurgeListener  = (*Feed)(nil)
)

// LastSeq is the sequence of the newest stored record (0: none).
func (f *Feed) LastSeq(ctx context.Context) (uint64, error) {
	info, err := f.stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// Cursor reads the feed in stream order, from a sequence on.
type Cursor struct {
	cons jetstream.Consumer
}

// Read opens a cursor at seq (1: the oldest record kept; records older than the stream's
// limits are gone and the cursor starts at the oldest one left).
func (f *Feed) Read(ctx context.Context, seq uint64) (*Cursor, error) {
	if seq < 1 {
		seq = 1
	}
	c, err := f.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: seq,
	})
	if err != nil {
		return nil, fmt.Errorf("feed cursor: %w", err)
	}
	return &Cursor{cons: c}, nil
}

// ReadFrom opens a cursor at the first record stored at or after t.
func (f *Feed) ReadFrom(ctx context.Context, t time.Time) (*Cursor, error) {
	c, err := f.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &t,
	})
	if err != nil {
		return nil, fmt.Errorf("feed cursor: %w", err)
	}
	return &Cursor{cons: c}, nil
}

// ErrNoRecord says Next waited its whole wait without a new record.
var ErrNoRecord = errors.New("feed: no new record")

// Next returns the next record, waiting at most wait; ErrNoRecord when none came, ctx's
// error once ctx is done.
func (c *Cursor) Next(ctx context.Context, wait time.Duration) (Record, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	m, err := c.cons.Next(jetstream.FetchContext(wctx))
	if err != nil {
		if ctx.Err() != nil {
			return Record{}, ctx.Err()
		}
		if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrNoMessages) ||
			errors.Is(err, jetstream.ErrInvalidOption) { // a deadline already past
			return Record{}, ErrNoRecord
		}
		return Record{}, fmt.Errorf("feed read: %w", err)
	}
	md, err := m.Metadata()
	if err != nil {
		return Record{}, fmt.Errorf("feed read: %w", err)
	}
	return decodeRecord(m.Data(), md.Sequence.Stream, md.Timestamp)
}
