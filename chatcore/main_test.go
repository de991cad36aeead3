package chatcore

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatgate/chatgate/chatcore/jetstore"
	"github.com/chatgate/chatgate/internal/natsserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// engine is an embedded JetStream with a store on it.
type engine struct {
	dir   string
	conn  *natsserver.Conn
	store *jetstore.Store
}

func startEngine(t testing.TB, dir string, sync natsserver.SyncPolicy) *engine {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ctx := context.Background()
	c, err := natsserver.Start(ctx, natsserver.Options{DataDir: dir, Sync: sync})
	if err != nil {
		t.Fatal(err)
	}
	s, err := jetstore.Open(ctx, c, jetstore.Options{})
	if err != nil {
		c.Close(ctx)
		t.Fatal(err)
	}
	e := &engine{dir: dir, conn: c, store: s}
	t.Cleanup(e.close)
	return e
}

func (e *engine) close() {
	if e.conn != nil {
		e.conn.Close(context.Background())
		e.conn = nil
	}
}

// recorder is a Listener that keeps everything it receives.
type recorder struct {
	mu     sync.Mutex
	events map[string][]Event
	props  map[string][]map[string]string
	signal chan struct{}
}

func newRecorder() *recorder {
	return &recorder{events: map[string][]Event{}, props: map[string][]map[string]string{}, signal: make(chan struct{}, 1)}
}

func (r *recorder) OnEvent(chat ChatView, ev Event) {
	r.mu.Lock()
	r.events[chat.ID] = append(r.events[chat.ID], ev)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) OnProperties(chat ChatView, changed map[string]string) {
	r.mu.Lock()
	r.props[chat.ID] = append(r.props[chat.ID], changed)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) poke() {
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *recorder) eventsOf(id string) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events[id]...)
}

// waitFor waits (bounded by a generous real-time limit, for failure only) until cond holds.
func (r *recorder) waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	limit := time.NewTimer(20 * time.Second)
	defer limit.Stop()
	for !cond() {
		select {
		case <-r.signal:
		case <-limit.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// lastEvent returns the chat's last recorded event.
func (r *recorder) lastEvent(id string) (Event, bool) {
	evs := r.eventsOf(id)
	if len(evs) == 0 {
		return Event{}, false
	}
	return evs[len(evs)-1], true
}

type testCore struct {
	*Core
	clock *ManualClock
	rec   *recorder
	eng   *engine
	opts  *optBox
}

// optBox is a mutable OptionSource for tests.
type optBox struct {
	mu sync.Mutex
	o  Options
}

func (b *optBox) Options(string) Options {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.o
}

func (b *optBox) set(f func(o *Options)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(&b.o)
}

func newCore(t testing.TB, eng *engine, clock *ManualClock, opts *optBox, live LivenessChecker) *testCore {
	t.Helper()
	return newCoreWith(t, eng, clock, opts, live, nil)
}

// newCoreWith is newCore with a last say on the Config (limits, ...).
func newCoreWith(t testing.TB, eng *engine, clock *ManualClock, opts *optBox, live LivenessChecker, mod func(*Config)) *testCore {
	t.Helper()
	if eng == nil {
		eng = startEngine(t, "", "")
	}
	if clock == nil {
		clock = NewManualClock(t0)
	}
	if opts == nil {
		opts = &optBox{o: DefaultOptions()}
	}
	rec := newRecorder()
	cfg := Config{Store: eng.store, Clock: clock, Options: opts, Liveness: live, NodeName: "node-1", Listeners: []Listener{rec}}
	if mod != nil {
		mod(&cfg)
	}
	co, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(co.Close)
	return &testCore{Core: co, clock: clock, rec: rec, eng: eng, opts: opts}
}

// settle waits until the timers have done everything due at the manual clock's time.
func (tc *testCore) settle(t testing.TB) {
	t.Helper()
	limit := time.NewTimer(20 * time.Second) // failure bound only
	defer limit.Stop()
	for !tc.settled() {
		select {
		case <-tc.tick:
		case <-limit.C:
			t.Fatal("timers did not settle")
		}
	}
}

// advance moves the clock and waits for the timers to settle.
func (tc *testCore) advance(t testing.TB, d time.Duration) {
	t.Helper()
	tc.clock.Advance(d)
	tc.settle(t)
}

// types lists the event types recorded for a chat since index from.
func (tc *testCore) types(id string, from int64) []string {
	var out []string
	for _, ev := range tc.rec.eventsOf(id) {
		if ev.Index >= from {
			s := string(ev.Type)
			if k := ev.UserData[KeyIdleControl]; k != "" {
				s += ":" + k
			}
			if q, ok := ev.UserData[KeyQuitReason]; ok {
				s += ":" + q
			}
			out = append(out, s)
		}
	}
	return out
}

// prop returns the latest recorded value of a property.
func (r *recorder) prop(id, name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := ""
	for _, p := range r.props[id] {
		if x, ok := p[name]; ok {
			v = x
		}
	}
	return v
}

// Events reads a chat's transcript from an index to its end the way a caller pages through
// it (3 events per page, so multi-page reads are the norm in tests).
func (tc *testCore) Events(ctx context.Context, chatID string, from int64) ([]Event, error) {
	return readAll(ctx, tc.Core, chatID, from)
}

func readAll(ctx context.Context, co *Core, chatID string, from int64) ([]Event, error) {
	var out []Event
	for {
		p, err := co.EventsPage(ctx, chatID, from, 3, 0)
		if err != nil {
			return out, err
		}
		out = append(out, p.Events...)
		if !p.More {
			return out, nil
		}
		from = p.Next
	}
}
