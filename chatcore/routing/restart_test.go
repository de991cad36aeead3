package routing

import (
	"context"
	"testing"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// TestRestartRederivesQueues stops the node (router, core, embedded JetStream) with chats
// waiting, one of them offered and one being handled, and starts it again on the same
// files: the queue comes back in the same order (wait starts from KV, not creation times),
// the handled chat still counts against its agent, the offered chat is offered again, and
// no customer gets the no-agent notice twice.
func TestRestartRederivesQueues(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, func(c *Config) { c.Default = Service{NoAgentNotice: "please wait"} })

	late := h.chat("sales", nil) // created first, waits last (held, then the customer writes)
	h.r.settle()                 // nobody is logged in: it waits, with a notice
	h.login("a", 1, "sales")
	h.state("a", StateReady)
	h.wantOffered("a", late.ChatID)
	h.accept("a", late.ChatID)
	if _, err := h.core.Hold(ctx, late.ChatID, "a"); err != nil {
		t.Fatal(err)
	}
	h.state("a", StateNotReady)
	h.clock.Advance(time.Second)
	c1 := h.chat("sales", nil).ChatID
	h.clock.Advance(time.Second)
	c2 := h.chat("sales", nil).ChatID
	h.clock.Advance(time.Second)
	busy := h.chat("sales", nil).ChatID
	h.clock.Advance(time.Second)
	if _, err := h.core.SendMessage(ctx, late.ChatID, late.UserID, "I am back", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the no-agent notices", func() bool {
		return countNotices(t, h, c2) == 1 && countNotices(t, h, late.ChatID) == 2 // one per wait
	})
	// c takes busy and keeps it across the restart; it passes on the others.
	h.login("c", 4, "sales")
	h.state("c", StateReady)
	h.wantOffered("c", c1, c2, busy, late.ChatID)
	h.accept("c", busy)
	for _, id := range []string{c1, c2, late.ChatID} {
		if err := h.r.Reject("c", id); err != nil {
			t.Fatal(err)
		}
	}
	h.state("c", StateNotReady)
	// b is offered c1 when the node dies.
	h.login("b", 1, "sales")
	h.state("b", StateReady)
	h.wantOffered("b", c1)

	h.clock.Advance(time.Minute)
	h.restart()

	for i, id := range []string{c1, c2, late.ChatID} {
		p, err := h.r.Position(id)
		if err != nil || p.Position != i+1 {
			t.Fatalf("after restart, chat %d: %+v %v", i, p, err)
		}
	}
	if _, err := h.r.Position(busy); err == nil {
		t.Fatal("the handled chat is queued after the restart")
	}
	h.login("c", 1, "sales")
	h.state("c", StateReady)
	h.wantOffered("c") // busy still fills c's capacity
	h.login("b", 1, "sales")
	h.state("b", StateReady)
	h.wantOffered("b", c1)
	h.r.settle()
	if _, err := h.core.SystemNotice(ctx, c2, "marker", nil); err != nil { // a later event: notices before it are committed
		t.Fatal(err)
	}
	if _, err := h.core.SystemNotice(ctx, late.ChatID, "marker", nil); err != nil {
		t.Fatal(err)
	}
	if n, m := countNotices(t, h, c2), countNotices(t, h, late.ChatID); n != 1 || m != 2 {
		t.Fatalf("no-agent notices after the restart: %d and %d", n, m)
	}
}

func countNotices(t *testing.T, h *harness, chatID string) int {
	t.Helper()
	evs, err := transcript(context.Background(), h.core, chatID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Type == chatcore.EventNotice && ev.UserData[NoticeKey] != "" {
			n++
		}
	}
	return n
}

// transcript reads a chat's whole transcript page by page (chatcore has no whole read).
func transcript(ctx context.Context, co *chatcore.Core, chatID string) ([]chatcore.Event, error) {
	var out []chatcore.Event
	for from := int64(1); ; {
		p, err := co.EventsPage(ctx, chatID, from, 0, 0)
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

// TestCoreClosedFirst: a core stopped before its router (a shutdown in the wrong order)
// leaves the router quiet: the marked chat is dropped, not retried in a loop.
func TestCoreClosedFirst(t *testing.T) {
	h := newHarness(t, nil)
	id := h.chat("sales", nil).ChatID
	h.r.settle()
	h.core.Close()
	h.r.mark(id)
	h.r.settle()
	h.r.mu.Lock()
	_, retry := h.r.dl.Get("r:" + id)
	dirty := len(h.r.dirty)
	h.r.mu.Unlock()
	if retry || dirty != 0 {
		t.Fatalf("after the core closed: retry armed %v, %d marked", retry, dirty)
	}
}

// TestLastAgentSweep: last-agent records whose window has passed leave memory and KV at the
// hourly sweep, though their customers never come back.
func TestLastAgentSweep(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, func(c *Config) { c.LastAgentWindow = 30 * time.Minute })
	cr := h.chat("sales", map[string]string{"EmailAddress": "x@example.com"})
	h.login("a", 1, "sales")
	h.state("a", StateReady)
	h.wantOffered("a", cr.ChatID)
	h.accept("a", cr.ChatID)
	if _, err := h.core.EndChat(ctx, cr.ChatID, "a"); err != nil {
		t.Fatal(err)
	}
	h.r.settle()
	keys := func() int {
		h.r.mu.Lock()
		defer h.r.mu.Unlock()
		return len(h.r.last)
	}
	if n := keys(); n != 2 {
		t.Fatalf("%d last-agent records, want 2 (chat and customer)", n)
	}
	h.advance(sweepEvery)
	if n := keys(); n != 0 {
		t.Fatalf("%d records after the sweep", n)
	}
	eventually(t, "the KV records deleted", func() bool {
		_, err1 := h.r.cfg.KV.Get(ctx, "l.c."+cr.ChatID)
		lister, err := h.r.cfg.KV.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for k := range lister.Keys() {
			if k[0] == 'l' {
				n++
			}
		}
		return err1 != nil && n == 0
	})
}
