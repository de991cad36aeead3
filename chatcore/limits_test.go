package chatcore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/chatcore/jetstore"
)

// pageSpy is the real store, recording the largest page the Core asked it for and got.
type pageSpy struct {
	*jetstore.Store
	mu                  sync.Mutex
	maxEvents, maxBytes int
	askEvents, askBytes int
	reads               int
}

func (s *pageSpy) EventsPage(ctx context.Context, chatID string, from int64, maxEvents, maxBytes int) ([]RawEvent, error) {
	evs, err := s.Store.EventsPage(ctx, chatID, from, maxEvents, maxBytes)
	b := 0
	for _, e := range evs {
		b += len(e.JSON)
	}
	s.mu.Lock()
	s.reads++
	s.maxEvents, s.maxBytes = max(s.maxEvents, len(evs)), max(s.maxBytes, b)
	s.askEvents, s.askBytes = max(s.askEvents, maxEvents), max(s.askBytes, maxBytes)
	s.mu.Unlock()
	return evs, err
}

// The attack of issue 7 item 3: a customer builds a huge transcript with large messages
// while others refresh from position 1 concurrently. Now the transcript stops at its byte
// limit with ErrTranscriptFull (nothing of the refused message is stored), the chat can
// still be ended, and every read, however many run at once, holds one bounded page: the
// store is never asked for, and never returns, more than the page limits.
func TestTranscriptLimitAndPagedReadsUnderAttack(t *testing.T) {
	ctx := context.Background()
	eng := startEngine(t, "", "")
	spy := &pageSpy{Store: eng.store}
	const pageEvents, pageBytes = 40, 64 << 10
	tc := newCoreWith(t, eng, nil, nil, nil, func(c *Config) {
		c.Store = spy
		c.Limits = Limits{MaxTranscriptBytes: 1 << 20, MaxEvents: 5000, EventRate: 1000, EventBurst: 1000, MaxPageEvents: pageEvents, MaxPageBytes: pageBytes}
	})
	cr := mustCreate(t, tc, nil)
	big := strings.Repeat("A", 16<<10) // the largest message allowed
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readErr := make(chan error, 4)
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for from := int64(1); ; {
					p, err := tc.EventsPage(ctx, cr.ChatID, from, 0, 0)
					if err != nil {
						readErr <- err
						return
					}
					if len(p.Events) > pageEvents {
						readErr <- fmt.Errorf("page of %d events", len(p.Events))
						return
					}
					if !p.More {
						break
					}
					from = p.Next
				}
			}
		})
	}
	sent := 0
	var full error
	for i := range 3000 { // bounded: the limit must stop it long before
		if _, err := tc.SendMessage(ctx, cr.ChatID, cr.UserID, fmt.Sprintf("%04d%s", i, big[4:]), ""); err != nil {
			full = err
			break
		}
		sent++
	}
	close(stop)
	readers.Wait()
	close(readErr)
	for err := range readErr {
		t.Fatal(err)
	}
	if !errors.Is(full, ErrTranscriptFull) {
		t.Fatalf("after %d messages: %v, want ErrTranscriptFull", sent, full)
	}
	if sent < 50 || sent > 64 { // 1 MiB of 16 KiB messages
		t.Fatalf("%d messages accepted under a 1 MiB limit", sent)
	}
	view, _ := tc.Chat(cr.ChatID)
	if view.LastIndex != int64(1+sent) {
		t.Fatalf("last index %d after %d messages: the refused one left something", view.LastIndex, sent)
	}
	// A large typing preview is refused too; leaving is not.
	if _, err := tc.StartTyping(ctx, cr.ChatID, cr.UserID, big); !errors.Is(err, ErrTranscriptFull) {
		t.Fatalf("typing on a full chat: %v", err)
	}
	if _, err := tc.Disconnect(ctx, cr.ChatID, cr.UserID); err != nil {
		t.Fatalf("leaving a full chat: %v", err)
	}
	// A whole read of the ended chat in pages: all events, none lost at page seams.
	evs, err := tc.Events(ctx, cr.ChatID, 1)
	if err != nil || len(evs) != sent+2 {
		t.Fatalf("read back %d events, %v", len(evs), err)
	}
	for i, e := range evs {
		if e.Index != int64(i+1) {
			t.Fatalf("event %d has index %d", i, e.Index)
		}
	}
	spy.mu.Lock()
	defer spy.mu.Unlock()
	if spy.reads == 0 || spy.askEvents > pageEvents || spy.askBytes > pageBytes || spy.maxEvents > pageEvents || spy.maxBytes > pageBytes {
		t.Fatalf("store reads: %d; asked up to %d events / %d bytes, got up to %d / %d; page is %d / %d",
			spy.reads, spy.askEvents, spy.askBytes, spy.maxEvents, spy.maxBytes, pageEvents, pageBytes)
	}
}

// The event-count limit, kept across a restart (the count is the transcript's last index,
// the bytes are stored in the state document).
func TestTranscriptEventLimitSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	eng := startEngine(t, "", "")
	lim := func(c *Config) { c.Limits = Limits{MaxEvents: 10, MaxTranscriptBytes: 2400, EventBurst: 100} }
	tc := newCoreWith(t, eng, nil, nil, nil, lim)
	a := mustCreate(t, tc, nil)
	for i := range 9 {
		if _, err := tc.SendMessage(ctx, a.ChatID, a.UserID, fmt.Sprint("m", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tc.SendMessage(ctx, a.ChatID, a.UserID, "one too many", ""); !errors.Is(err, ErrTranscriptFull) {
		t.Fatalf("11th event: %v", err)
	}
	b := mustCreate(t, tc, nil)
	if _, err := tc.SendMessage(ctx, b.ChatID, b.UserID, strings.Repeat("b", 1000), ""); err != nil {
		t.Fatal(err)
	}
	tc.Close()
	tc2 := newCoreWith(t, eng, nil, nil, nil, lim)
	if _, err := tc2.SendMessage(ctx, a.ChatID, a.UserID, "after restart", ""); !errors.Is(err, ErrTranscriptFull) {
		t.Fatalf("after restart: %v", err)
	}
	// b holds ~1.3 KB; a second 1,000-byte message passes 2,400 bytes.
	if _, err := tc2.SendMessage(ctx, b.ChatID, b.UserID, strings.Repeat("c", 1000), ""); !errors.Is(err, ErrTranscriptFull) {
		t.Fatalf("bytes after restart: %v", err)
	}
	if _, err := tc2.SendMessage(ctx, b.ChatID, b.UserID, "short", ""); err != nil {
		t.Fatalf("a small one still fits: %v", err)
	}
}

// Each participant's events in a chat are rate limited (typing included) with the Core's
// clock; a refusal commits nothing and takes no tokens, the other participants are not
// affected, and leaving is never limited.
func TestEventRateLimit(t *testing.T) {
	ctx := context.Background()
	tc := newCoreWith(t, nil, nil, nil, nil, func(c *Config) { c.Limits = Limits{EventRate: 2, EventBurst: 4} })
	cr := mustCreate(t, tc, nil)
	ag, _, err := tc.Join(ctx, cr.ChatID, JoinRequest{Type: Agent, Nickname: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	send := func(user string, typing bool) error {
		if typing {
			_, err := tc.StartTyping(ctx, cr.ChatID, user, "")
			return err
		}
		_, err := tc.SendMessage(ctx, cr.ChatID, user, "x", "")
		return err
	}
	for i := range 4 {
		if err := send(cr.UserID, i%2 == 0); err != nil {
			t.Fatalf("burst event %d: %v", i, err)
		}
	}
	before, _ := tc.Chat(cr.ChatID)
	if err := send(cr.UserID, true); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("typing over the burst: %v", err)
	}
	if err := send(cr.UserID, false); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("message over the burst: %v", err)
	}
	if after, _ := tc.Chat(cr.ChatID); after.LastIndex != before.LastIndex {
		t.Fatalf("refused events were committed: %d -> %d", before.LastIndex, after.LastIndex)
	}
	if err := send(ag.UserID, false); err != nil {
		t.Fatalf("the agent is limited by the customer's flood: %v", err)
	}
	tc.clock.Advance(500 * time.Millisecond) // one token at 2/s
	if err := send(cr.UserID, false); err != nil {
		t.Fatalf("after the refill: %v", err)
	}
	if err := send(cr.UserID, false); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("second after one token: %v", err)
	}
	if _, err := tc.Disconnect(ctx, cr.ChatID, cr.UserID); err != nil {
		t.Fatalf("leaving while rate limited: %v", err)
	}
}

// Chats that only hold their creation are re-read at start without a transcript read (the
// creation's stored document counts the join's bytes), as before transcript bytes were
// counted; the count is right after the restart.
func TestStartReadsNoTranscriptOfIdleChats(t *testing.T) {
	eng := startEngine(t, "", "")
	tc := newCore(t, eng, nil, nil, nil)
	var ids []string
	for range 20 {
		ids = append(ids, mustCreate(t, tc, nil).ChatID)
	}
	want := map[string]int64{}
	for _, id := range ids {
		tc.mu.RLock()
		c := tc.chats[id]
		tc.mu.RUnlock()
		c.mu.Lock()
		want[id] = c.st.TranscriptBytes
		c.mu.Unlock()
		if want[id] == 0 {
			t.Fatalf("chat %s counts no bytes for its join", id)
		}
	}
	tc.Close()
	spy := &pageSpy{Store: eng.store}
	tc2 := newCoreWith(t, eng, nil, nil, nil, func(c *Config) { c.Store = spy })
	<-tc2.warmed
	spy.mu.Lock()
	reads := spy.reads
	spy.mu.Unlock()
	if reads != 0 {
		t.Fatalf("%d transcript reads at start for chats holding only their creation", reads)
	}
	for _, id := range ids {
		tc2.mu.RLock()
		c := tc2.chats[id]
		tc2.mu.RUnlock()
		c.mu.Lock()
		got := c.st.TranscriptBytes
		c.mu.Unlock()
		if got != want[id] {
			t.Fatalf("chat %s: %d transcript bytes after restart, %d before", id, got, want[id])
		}
	}
}
