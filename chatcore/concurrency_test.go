package chatcore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentOperations: many goroutines on one chat and on many chats. Every chat's
// transcript is gapless, every acknowledged event is stored once, and listeners see each
// chat's events exactly once in index order.
func TestConcurrentOperations(t *testing.T) {
	ctx := context.Background()
	const chats, writers, msgs = 8, 4, 25
	// The manual clock stands still: the rate limit is lifted to what this test sends.
	tc := newCoreWith(t, nil, nil, nil, nil, func(c *Config) { c.Limits.EventBurst = writers * msgs })
	crs := make([]Created, chats)
	for i := range crs {
		crs[i] = mustCreate(t, tc, nil)
	}
	var wg sync.WaitGroup
	errs := make(chan error, chats*writers)
	for _, cr := range crs {
		for w := range writers {
			wg.Go(func() {
				for m := range msgs {
					if _, err := tc.SendMessage(ctx, cr.ChatID, cr.UserID, fmt.Sprintf("w%d-m%d", w, m), ""); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := 1 + writers*msgs
	for _, cr := range crs {
		evs, err := tc.Events(ctx, cr.ChatID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != want {
			t.Fatalf("chat %s: %d events, want %d", cr.ChatID, len(evs), want)
		}
		seen := map[string]bool{}
		for i, ev := range evs {
			if ev.Index != int64(i+1) {
				t.Fatalf("gap at %d", i)
			}
			if seen[ev.Text] {
				t.Fatalf("duplicate %q", ev.Text)
			}
			seen[ev.Text] = true
		}
		tc.rec.waitFor(t, "all events delivered", func() bool { return len(tc.rec.eventsOf(cr.ChatID)) >= want })
		got := tc.rec.eventsOf(cr.ChatID)
		if len(got) != want {
			t.Fatalf("listener got %d events, want %d", len(got), want)
		}
		for i, ev := range got {
			if ev.Index != int64(i+1) {
				t.Fatalf("listener order: index %d at %d", ev.Index, i)
			}
		}
	}
}

// TestListenerMayCallBack: a listener running an operation on the same chat (a bot
// answering) neither deadlocks nor breaks the order.
func TestListenerMayCallBack(t *testing.T) {
	ctx := context.Background()
	tc := newCore(t, nil, nil, nil, nil)
	cr := mustCreate(t, tc, nil)
	bot, _, err := tc.Join(ctx, cr.ChatID, JoinRequest{Type: External, Nickname: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	remove := tc.AddListener(ListenerFuncs{Event: func(v ChatView, ev Event) {
		if ev.Type == EventMessage && ev.From.Type == Client {
			if _, err := tc.SendMessage(ctx, v.ID, bot.UserID, "echo: "+ev.Text, ""); err != nil {
				t.Error(err)
			}
		}
	}})
	defer remove()
	for i := range 5 {
		if _, err := tc.SendMessage(ctx, cr.ChatID, cr.UserID, fmt.Sprint(i), ""); err != nil {
			t.Fatal(err)
		}
	}
	tc.rec.waitFor(t, "echoes", func() bool { return len(tc.rec.eventsOf(cr.ChatID)) == 12 })
	for i, ev := range tc.rec.eventsOf(cr.ChatID) {
		if ev.Index != int64(i+1) {
			t.Fatalf("order: %d at %d", ev.Index, i)
		}
	}
}

// TestSecondWriterConflict: two Cores on the same store both believe they own a chat. The
// stale one gets ErrConflict and nothing of it is stored; it re-reads the chat and its next
// operation succeeds after the other's events.
func TestSecondWriterConflict(t *testing.T) {
	ctx := context.Background()
	eng := startEngine(t, "", "")
	a := newCore(t, eng, nil, nil, nil)
	cr := mustCreate(t, a, nil)
	b := newCore(t, eng, nil, nil, nil) // loads the chat
	if _, err := b.SendMessage(ctx, cr.ChatID, cr.UserID, "from b", ""); err != nil {
		t.Fatal(err)
	}
	// a's idea of the chat is now stale.
	if _, err := a.SendMessage(ctx, cr.ChatID, cr.UserID, "from a", ""); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale writer: %v", err)
	}
	evs, _ := b.Events(ctx, cr.ChatID, 1)
	if len(evs) != 2 || evs[1].Text != "from b" {
		t.Fatalf("after conflict: %+v", evs)
	}
	res, err := a.SendMessage(ctx, cr.ChatID, cr.UserID, "from a again", "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Events[0].Index != 3 {
		t.Fatalf("index after reload %d", res.Events[0].Index)
	}
	// State compare-and-set: b's state revision is stale after a's state write.
	if _, err := a.UpdateUserData(ctx, cr.ChatID, cr.UserID, map[string]string{"k": "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UpdateUserData(ctx, cr.ChatID, cr.UserID, map[string]string{"k": "b"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale state write: %v", err)
	}
	v, _ := b.Chat(cr.ChatID)
	if v.UserData["k"] == "b" {
		t.Fatal("rejected change applied in memory")
	}
}

// TestStoreUnavailable: with the engine gone, operations fail with ErrUnavailable (nothing
// is acknowledged) and Close still stops everything.
func TestStoreUnavailable(t *testing.T) {
	ctx := context.Background()
	tc := newCore(t, nil, nil, nil, nil)
	cr := mustCreate(t, tc, nil)
	tc.eng.close()
	res, err := tc.SendMessage(ctx, cr.ChatID, cr.UserID, "into the void", "")
	if !errors.Is(err, ErrUnavailable) || len(res.Events) != 0 {
		t.Fatalf("send without store: %+v %v", res, err)
	}
	// The chat is re-read before its next operation, which fails the same way.
	if _, err := tc.SendMessage(ctx, cr.ChatID, cr.UserID, "again", ""); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("second send: %v", err)
	}
	if _, err := tc.CreateChat(ctx, CreateRequest{Service: "svc", Nickname: "x"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("create: %v", err)
	}
	if got := len(tc.rec.eventsOf(cr.ChatID)); got != 1 {
		t.Fatalf("listener got %d events", got)
	}
}
