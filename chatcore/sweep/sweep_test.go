package sweep

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/jetstore"
	"github.com/chatgate/chatgate/chatcore/routing"
	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

const interval = time.Second

// optBox serves the harness's options (chatcore.OptionSource).
type optBox struct {
	mu sync.Mutex
	o  chatcore.Options
}

func (b *optBox) Options(string) chatcore.Options {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.o
}

// harness is a real chat core on an embedded JetStream, on a manual clock, with a sweeper.
type harness struct {
	t     *testing.T
	clock *chatcore.ManualClock
	opts  *optBox
	store *jetstore.Store
	conn  *natsserver.Conn
	core  *chatcore.Core
	sw    *Sweeper
	cfg   Config
	// stopSweeper stops the running sweeper (idempotent).
	stopSweeper func()
}

func newHarness(t *testing.T, extendBy string, cfg Config) *harness {
	if cfg.Interval == 0 {
		cfg.Interval = interval
	}
	t.Helper()
	ctx := context.Background()
	conn, err := natsserver.Start(ctx, natsserver.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	st, err := jetstore.Open(ctx, conn, jetstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := chatcore.DefaultOptions()
	o.Settings.AsyncIdleAlert = 100 * time.Second
	o.Settings.AsyncIdleClose = 50 * time.Second
	o.Settings.AsyncCheckAtMargin = 10 * time.Second
	o.Settings.FlexPushTimeout = 1728000 * time.Second
	o.Settings.FlexDisconnectTimeout = 1728000 * time.Second
	o.Settings.SessionRestoreExtendBy = extendBy
	h := &harness{t: t, clock: chatcore.NewManualClock(t0), opts: &optBox{o: o}, store: st, conn: conn, cfg: cfg}
	h.start(false)
	return h
}

// start runs a core (timers held with holdTimers) and a sweeper on it.
func (h *harness) start(holdTimers bool) {
	var err error
	h.core, err = chatcore.New(context.Background(), chatcore.Config{Store: h.store, Clock: h.clock, NodeName: "n1", Options: h.opts, DeferTimers: holdTimers})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(h.core.Close)
	cfg := h.cfg
	cfg.Core, cfg.Clock = h.core, h.clock
	h.sw = New(cfg)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.sw.Run(runCtx) }()
	h.stopSweeper = func() { cancel(); <-done }
	h.t.Cleanup(h.stopSweeper)
}

// holdTimers restarts the core with its timers held: the chats stay in memory but nothing
// closes them, as on a node whose timers do not run (what the stuck strategy is for: the
// chat outlives its GCTI_Chat_AsyncCheckAt).
func (h *harness) holdTimers() {
	h.stopSweeper()
	h.core.Close()
	h.start(true)
}

// advance moves the clock by d in steps of the sweep interval, each step waiting for the
// sweeper's pass when it runs one (the pass acts on the clock's time of that step).
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	for end := h.clock.Now().Add(d); h.clock.Now().Before(end); {
		n := h.sw.Passes()
		h.clock.Advance(h.sw.cfg.Interval)
		if !h.sw.Enabled() {
			continue
		}
		testwait.Until(h.t, 10*time.Second, "a sweep pass", func() bool {
			if h.sw.Passes() > n {
				return true
			}
			// The first timer may have been armed just after the clock moved: move on to it.
			if h.clock.Pending() > 0 && h.sw.Passes() == 0 {
				h.clock.Advance(h.sw.cfg.Interval)
			}
			return false
		})
	}
}

// eventually waits for cond, which the core's timers make true asynchronously.
func (h *harness) eventually(what string, cond func(v chatcore.ChatView) bool, id string) chatcore.ChatView {
	h.t.Helper()
	var v chatcore.ChatView
	testwait.Until(h.t, 10*time.Second, what, func() bool {
		var err error
		v, err = h.core.Chat(id)
		return err == nil && cond(v)
	})
	return v
}

func (h *harness) chat() chatcore.Created {
	h.t.Helper()
	c, err := h.core.CreateChat(context.Background(), chatcore.CreateRequest{Service: "svc", Nickname: "Ann", UserData: map[string]string{chatcore.PropAsyncMode: "true"}})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) view(id string) chatcore.ChatView {
	h.t.Helper()
	v, err := h.core.Chat(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

// stuckScene makes three async chats: stuck (alerted, then its node stops running timers, so
// nothing closes it), active (alerted, then the customer wrote: CheckAt moved) and fresh
// (created later, not alerted), and brings the clock past stuck's CheckAt.
func stuckScene(h *harness) (stuck, active, fresh chatcore.Created) {
	ctx := context.Background()
	stuck, active = h.chat(), h.chat()
	h.advance(100 * time.Second) // both alerted: status 3, CheckAt = t0+160 s
	for _, c := range []chatcore.Created{stuck, active} {
		h.eventually("the alert", func(v chatcore.ChatView) bool {
			return v.AsyncStatus == chatcore.AsyncAlerted && v.CheckAt == t0.Add(160*time.Second).Unix()
		}, c.ChatID)
	}
	h.holdTimers()
	if _, err := h.core.SendMessage(ctx, active.ChatID, active.UserID, "still here", ""); err != nil {
		h.t.Fatal(err)
	}
	fresh = h.chat()
	h.advance(61 * time.Second) // t0+161 s: stuck is due; active's CheckAt is t0+260 s
	return stuck, active, fresh
}

func TestStuckStrategies(t *testing.T) {
	for _, tc := range []struct {
		name     string
		strategy Strategy
		extendBy string
		// what becomes of the stuck chat
		restored bool
		ended    bool
		status   int
	}{
		{name: "off", strategy: Off, extendBy: "esp", status: chatcore.AsyncAlerted},
		{name: "restore", strategy: Restore, extendBy: "esp", restored: true, status: chatcore.AsyncOnHold},
		{name: "restore both", strategy: Restore, extendBy: "both", restored: true, status: chatcore.AsyncOnHold},
		{name: "restore refused", strategy: Restore, extendBy: "none", status: chatcore.AsyncAlerted},
		{name: "restore-and-route", strategy: RestoreAndRoute, extendBy: "esp", restored: true, status: chatcore.AsyncQueued},
		{name: "restore-and-route refused", strategy: RestoreAndRoute, extendBy: "agent", status: chatcore.AsyncAlerted},
		{name: "end", strategy: End, extendBy: "none", ended: true, status: chatcore.AsyncAlerted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.extendBy, Config{Strategy: tc.strategy})
			stuck, active, fresh := stuckScene(h)
			h.advance(2 * interval) // a pass after CheckAt, and one more (a refusal stays)
			v := h.view(stuck.ChatID)
			if v.Restored != tc.restored || v.Ended != tc.ended || v.AsyncStatus != tc.status {
				t.Fatalf("stuck chat: restored %v ended %v status %d, want %v %v %d", v.Restored, v.Ended, v.AsyncStatus, tc.restored, tc.ended, tc.status)
			}
			due := len(h.core.CheckDue()) == 1
			if wantDue := !tc.restored && !tc.ended; due != wantDue {
				t.Fatalf("stuck chat still due %v, want %v", due, wantDue)
			}
			if tc.restored {
				// CheckAt moved to now + alert + close + margin: off the list until then.
				if want := v.RestoredAt.Add(160 * time.Second).Unix(); v.CheckAt != want {
					t.Fatalf("CheckAt after the restoration %d, want about %d", v.CheckAt, want)
				}
			}
			if tc.ended {
				if p := v.Properties(); p[chatcore.PropIsOnline] != "false" {
					t.Fatalf("ended chat's properties %v", p)
				}
			}
			for _, c := range []chatcore.Created{active, fresh} {
				if v := h.view(c.ChatID); v.Ended || v.Restored {
					t.Fatalf("chat %s not due was touched: ended %v restored %v", c.ChatID, v.Ended, v.Restored)
				}
			}
		})
	}
}

// restore-and-route hands a stuck chat to routing, restore does not: after the sweep a ready
// agent is offered the chat only with restore-and-route (the real router on the same core).
func TestRestoreAndRouteReachesRouting(t *testing.T) {
	for _, strategy := range []Strategy{Restore, RestoreAndRoute} {
		t.Run(string(strategy), func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, "esp", Config{Strategy: strategy})
			stuck, active, fresh := stuckScene(h)
			h.advance(2 * interval)
			if v := h.view(stuck.ChatID); !v.Restored {
				t.Fatal("not restored")
			}
			kv, err := routing.OpenBucket(ctx, h.conn, 1)
			if err != nil {
				t.Fatal(err)
			}
			r, err := routing.New(ctx, routing.Config{Core: h.core, KV: kv, Clock: h.clock})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(r.Close)
			if err := r.Login(routing.Agent{ID: "agent-1", Nickname: "Bo", Queues: []string{"svc"}, Capacity: 10}); err != nil {
				t.Fatal(err)
			}
			if err := r.SetState("agent-1", routing.StateReady, ""); err != nil {
				t.Fatal(err)
			}
			offered := map[string]bool{}
			// The fresh (status 1) and active (status 2) chats wait too: once both are offered
			// the router has seen every chat.
			testwait.Until(t, 10*time.Second, "the waiting chats offered", func() bool {
				clear(offered)
				for _, o := range r.Offers("agent-1") {
					offered[o.ChatID] = true
				}
				return offered[fresh.ChatID] && offered[active.ChatID] && (strategy != RestoreAndRoute || offered[stuck.ChatID])
			})
			if offered[stuck.ChatID] != (strategy == RestoreAndRoute) {
				t.Fatalf("stuck chat offered %v with %s", offered[stuck.ChatID], strategy)
			}
		})
	}
}

// A restored chat that gets stuck again is handled again at its new CheckAt.
func TestStuckAgain(t *testing.T) {
	h := newHarness(t, "esp", Config{Strategy: Restore})
	stuck, _, _ := stuckScene(h)
	h.advance(interval)
	first := h.view(stuck.ChatID)
	if !first.Restored {
		t.Fatal("not restored")
	}
	// Nothing closes it (the timers are held): past its new CheckAt it is stuck again.
	h.clock.Set(time.Unix(first.CheckAt, 0))
	h.advance(2 * interval)
	v := h.view(stuck.ChatID)
	if v.Ended || v.RestoredAt.Equal(first.RestoredAt) || v.CheckAt <= first.CheckAt {
		t.Fatalf("second restoration: ended %v restoredAt %v (first %v) CheckAt %d (first %d)", v.Ended, v.RestoredAt, first.RestoredAt, v.CheckAt, first.CheckAt)
	}
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "none", Config{Retention: time.Hour, Interval: time.Minute})
	var err error
	// Regular chats: no async timers in the way of a clock moved by an hour.
	mk := func() chatcore.Created {
		c, err := h.core.CreateChat(ctx, chatcore.CreateRequest{Service: "svc", Nickname: "Ann"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old, live, recent := mk(), mk(), mk()
	up, err := h.core.UploadFile(ctx, old.ChatID, old.UserID, chatcore.Upload{Name: "a.txt", ContentType: "text/plain", Data: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	fileID := up.Events[len(up.Events)-1].UserData[chatcore.KeyFileID]
	if _, rc, err := h.store.OpenFile(ctx, old.ChatID, fileID); err != nil {
		t.Fatalf("uploaded file: %v", err)
	} else {
		rc.Close()
	}
	if _, err := h.core.Leave(ctx, old.ChatID, old.UserID, chatcore.QuitLogout); err != nil {
		t.Fatal(err)
	}
	h.advance(30 * time.Minute)
	if _, err := h.core.EndChat(ctx, recent.ChatID, ""); err != nil {
		t.Fatal(err)
	}
	h.advance(31 * time.Minute) // old ended 61 min ago, recent 31 min ago
	// A purged chat answers like a chat that never existed.
	if _, err := h.core.Chat("NoSuchChat000000"); !errors.Is(err, chatcore.ErrChatNotFound) {
		t.Fatalf("unknown chat: %v", err)
	}
	if _, err := h.core.Chat(old.ChatID); !errors.Is(err, chatcore.ErrChatNotFound) {
		t.Fatalf("purged chat: %v", err)
	}
	if _, _, err := h.store.OpenFile(ctx, old.ChatID, fileID); !errors.Is(err, jetstore.ErrNotFound) {
		t.Fatalf("purged chat's file: %v", err)
	}
	if st, _, err := h.store.LoadChat(ctx, old.ChatID); !errors.Is(err, jetstore.ErrNotFound) {
		t.Fatalf("purged chat's state: %q %v", st, err)
	}
	if _, err := h.core.EventsPage(ctx, old.ChatID, 1, 10, 0); !errors.Is(err, chatcore.ErrChatNotFound) {
		t.Fatalf("purged chat's transcript: %v", err)
	}
	if _, err := h.core.Authenticate(old.ChatID, old.SecureKey, old.UserID, ""); !errors.Is(err, chatcore.ErrChatNotFound) {
		t.Fatalf("purged chat authenticates: %v", err)
	}
	if _, err := h.core.Authenticate("", old.SecureKey, "", ""); err == nil {
		t.Fatal("purged chat found by its secureKey")
	}
	if v := h.view(live.ChatID); v.Ended {
		t.Fatal("live chat ended")
	}
	if v := h.view(recent.ChatID); !v.Ended {
		t.Fatal("recent chat not ended")
	}
	h.advance(30 * time.Minute)
	if _, err := h.core.Chat(recent.ChatID); !errors.Is(err, chatcore.ErrChatNotFound) {
		t.Fatalf("recent chat after its retention: %v", err)
	}
	if _, err := h.core.SendMessage(ctx, live.ChatID, live.UserID, "still here", ""); err != nil {
		t.Fatalf("live chat after two hours: %v", err)
	}
}

// Retention 0 (the default) keeps ended chats forever.
func TestRetentionOff(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "none", Config{Strategy: End, Interval: time.Minute})
	c, err := h.core.CreateChat(ctx, chatcore.CreateRequest{Service: "svc", Nickname: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.core.EndChat(ctx, c.ChatID, ""); err != nil {
		t.Fatal(err)
	}
	h.advance(10 * time.Second)
	h.clock.Advance(400 * 24 * time.Hour)
	h.advance(2 * interval)
	if v := h.view(c.ChatID); !v.Ended {
		t.Fatal("not ended")
	}
}

func TestParseStrategy(t *testing.T) {
	for _, s := range []string{"off", "restore", "restore-and-route", "end"} {
		if got, err := ParseStrategy(s); err != nil || string(got) != s {
			t.Fatalf("%q: %v %v", s, got, err)
		}
	}
	for _, s := range []string{"", "Restore", "route", "end "} {
		if _, err := ParseStrategy(s); !errors.Is(err, ErrStrategy) {
			t.Fatalf("%q: %v", s, err)
		}
	}
}
