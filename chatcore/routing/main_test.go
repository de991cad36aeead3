package routing

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/jetstore"
	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// harness is a router on a real chat core on an embedded JetStream, on a manual clock.
type harness struct {
	t     testing.TB
	dir   string
	clock *chatcore.ManualClock
	mod   func(*Config)

	conn *natsserver.Conn
	core *chatcore.Core
	r    *Router
	sink *recSink
}

// longOptions keep the async idle timers out of the way of tests that move the clock by
// hours (20 days: the maximum).
func longOptions() chatcore.Options {
	o := chatcore.DefaultOptions()
	o.Settings.AsyncIdleAlert = 1728000 * time.Second
	o.Settings.AsyncIdleClose = 1728000 * time.Second
	o.Settings.FlexDisconnectTimeout = 1728000 * time.Second
	o.Settings.FlexPushTimeout = 1728000 * time.Second
	return o
}

func newHarness(t testing.TB, mod func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), clock: chatcore.NewManualClock(t0), mod: mod}
	h.start()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) start() {
	h.t.Helper()
	ctx := context.Background()
	c, err := natsserver.Start(ctx, natsserver.Options{DataDir: h.dir})
	if err != nil {
		h.t.Fatal(err)
	}
	h.conn = c
	st, err := jetstore.Open(ctx, c, jetstore.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	// The per-chat limits are lifted: BenchmarkMessageToOffer sends b.N messages into one
	// chat on a clock that stands still.
	unlimited := chatcore.Limits{EventRate: 1e12, EventBurst: 1 << 40, MaxEvents: 1 << 40, MaxTranscriptBytes: 1 << 60}
	h.core, err = chatcore.New(ctx, chatcore.Config{Store: st, Clock: h.clock, NodeName: "n1", Options: chatcore.StaticOptions(longOptions()), Limits: unlimited})
	if err != nil {
		h.t.Fatal(err)
	}
	kv, err := OpenBucket(ctx, c, 1)
	if err != nil {
		h.t.Fatal(err)
	}
	h.sink = &recSink{}
	cfg := Config{Core: h.core, KV: kv, Sink: h.sink, Clock: h.clock}
	if h.mod != nil {
		h.mod(&cfg)
	}
	h.r, err = New(ctx, cfg)
	if err != nil {
		h.t.Fatal(err)
	}
}

// stop closes the router, the core and the engine (a node that stops).
func (h *harness) stop() {
	if h.r != nil {
		h.r.Close()
		h.r = nil
	}
	if h.core != nil {
		h.core.Close()
		h.core = nil
	}
	if h.conn != nil {
		h.conn.Close(context.Background())
		h.conn = nil
	}
}

func (h *harness) restart() {
	h.stop()
	h.start()
}

// chat creates an async chat on service svc; ud adds userData.
func (h *harness) chat(svc string, ud map[string]string) chatcore.Created {
	h.t.Helper()
	data := map[string]string{chatcore.PropAsyncMode: "true"}
	for k, v := range ud {
		data[k] = v
	}
	c, err := h.core.CreateChat(context.Background(), chatcore.CreateRequest{Service: svc, Nickname: "Ann Customer", UserData: data})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) login(id string, capacity int, queues ...string) {
	h.t.Helper()
	if err := h.r.Login(Agent{ID: id, Nickname: "Agent " + id, Queues: queues, Capacity: capacity}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) state(id string, s State) {
	h.t.Helper()
	if err := h.r.SetState(id, s, ""); err != nil {
		h.t.Fatal(err)
	}
}

// offered returns the chats offered to agent now, after the router settled.
func (h *harness) offered(agentID string) []string {
	h.r.settle()
	var out []string
	for _, o := range h.r.Offers(agentID) {
		out = append(out, o.ChatID)
	}
	return out
}

func (h *harness) wantOffered(agentID string, want ...string) {
	h.t.Helper()
	got := h.offered(agentID)
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		h.t.Fatalf("offers of %s: got %v, want %v", agentID, got, want)
	}
}

func (h *harness) accept(agentID, chatID string) {
	h.t.Helper()
	if _, _, err := h.r.Accept(context.Background(), agentID, chatID); err != nil {
		h.t.Fatalf("accept %s by %s: %v", chatID, agentID, err)
	}
	h.r.settle()
}

func (h *harness) advance(d time.Duration) {
	h.clock.Advance(d)
	h.r.settle()
}

// recSink records what the router delivers, in order.
type recSink struct {
	mu  sync.Mutex
	log []sinkEvent
}

type sinkEvent struct {
	offer bool
	o     Offer
	why   Withdrawal
}

func (s *recSink) Offer(o Offer) {
	s.mu.Lock()
	s.log = append(s.log, sinkEvent{offer: true, o: o})
	s.mu.Unlock()
}

func (s *recSink) OfferWithdrawn(o Offer, why Withdrawal) {
	s.mu.Lock()
	s.log = append(s.log, sinkEvent{o: o, why: why})
	s.mu.Unlock()
}

func (s *recSink) events() []sinkEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// offerOrder is the chats offered, in order.
func (s *recSink) offerOrder() []string {
	var out []string
	for _, e := range s.events() {
		if e.offer {
			out = append(out, e.o.ChatID)
		}
	}
	return out
}

func (s *recSink) withdrawals(chatID string) []Withdrawal {
	var out []Withdrawal
	for _, e := range s.events() {
		if !e.offer && e.o.ChatID == chatID {
			out = append(out, e.why)
		}
	}
	return out
}

// eventually is testwait.Until with this package's 20 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, 20*time.Second, what, cond)
}
