package agentapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/bayeux"
	"github.com/chatgate/chatgate/chatcore"
)

// lpClient is a Bayeux long-polling client over real HTTP (loopback).
type lpClient struct {
	t        *testing.T
	received int // boards received so far
	url      string
	id       string
	hc       *http.Client
}

type lpMsg struct {
	Channel    string          `json:"channel"`
	Successful *bool           `json:"successful"`
	Error      string          `json:"error"`
	ClientID   string          `json:"clientId"`
	Data       json.RawMessage `json:"data"`
}

func (c *lpClient) send(msgs ...map[string]any) []lpMsg {
	c.t.Helper()
	body, _ := json.Marshal(msgs)
	resp, err := c.hc.Post(c.url, "application/json", strings.NewReader(string(body)))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out []lpMsg
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatalf("bayeux reply %d %q: %v", resp.StatusCode, raw, err)
	}
	return out
}

func newLP(t *testing.T, url string, token string) *lpClient {
	t.Helper()
	c := &lpClient{t: t, url: url, hc: &http.Client{Timeout: 30 * time.Second}}
	hs := map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}}
	if token != "" {
		hs["ext"] = map[string]string{HandshakeTokenKey: token}
	}
	rs := c.send(hs)
	if len(rs) != 1 || rs[0].Successful == nil || !*rs[0].Successful {
		t.Fatalf("handshake: %+v", rs)
	}
	c.id = rs[0].ClientID
	return c
}

func (c *lpClient) subscribe(ch string) lpMsg {
	c.t.Helper()
	return c.send(map[string]any{"channel": "/meta/subscribe", "clientId": c.id, "subscription": ch})[0]
}

// boards connects until at least one board arrived and returns the boards of the reply.
func (c *lpClient) boards(ch string) []Board {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var out []Board
		for _, m := range c.send(map[string]any{"channel": "/meta/connect", "clientId": c.id, "connectionType": "long-polling"}) {
			if m.Channel == ch {
				var b Board
				if err := json.Unmarshal(m.Data, &b); err != nil {
					c.t.Fatal(err)
				}
				out = append(out, b)
			}
		}
		if len(out) > 0 {
			c.received += len(out)
			return out
		}
	}
	c.t.Fatalf("no board on %s", ch)
	return nil
}

func ok(m lpMsg) bool { return m.Successful != nil && *m.Successful }

// waitUntil polls a condition with a deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval of the condition, bounded by the deadline
	}
}

func findChat(b Board, id string) (ChatInfo, bool) {
	for _, c := range b.Chats {
		if c.ChatID == id {
			return c, true
		}
	}
	return ChatInfo{}, false
}

func findQueue(b Board, name string) BoardQueue {
	for _, q := range b.Queues {
		if q.Name == name {
			return q
		}
	}
	return BoardQueue{}
}

// TestSupervisorBoardLive: the wall board over a real Bayeux server (long-polling on
// loopback) on the real core (embedded JetStream) with routing: agents, bots and customers
// are refused the channel (403, no subscriber); a supervisor's subscribe gets a snapshot;
// a customer's chat arrives as an update; changes inside the interval are coalesced into
// one board that comes when the (manual) clock reaches the interval's end; a sample counts
// the messages; a revoked token ends the board.
func TestSupervisorBoardLive(t *testing.T) {
	var policy Policy
	bx, err := bayeux.NewServer(bayeux.Config{Policy: &policy, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = bx.Shutdown(ctx)
	})
	f := newFixtureWith(t, "none", true, func(c *Config) { c.Sessions = bx })
	policy.Bind(f.api)
	bx.OnSessionAdded(func(info bayeux.SessionInfo) { f.api.SessionAdded(context.Background(), info) })
	bx.OnSessionRemoved(func(info bayeux.SessionInfo, _ bayeux.RemoveReason, _ json.RawMessage) { f.api.SessionRemoved(info) })
	bx.OnSubscription(f.api.Subscription)
	hs := httptest.NewServer(bx)
	t.Cleanup(hs.Close)
	const ch = "/agent/sue/board"

	// Refused: an agent on its own board and on the supervisor's, a bot, a customer.
	ann := newLP(t, hs.URL, f.tok["ann"])
	bot := newLP(t, hs.URL, f.tok["bot"])
	cust := newLP(t, hs.URL, "")
	for _, tc := range []struct {
		c  *lpClient
		ch string
	}{{ann, "/agent/ann/board"}, {ann, ch}, {bot, "/agent/bot/board"}, {cust, ch}} {
		if r := tc.c.subscribe(tc.ch); ok(r) || !strings.HasPrefix(r.Error, "403") {
			t.Fatalf("subscribe %s: %+v", tc.ch, r)
		}
	}
	if n := f.api.board.subscribers(); n != 0 {
		t.Fatalf("%d board subscribers after refusals", n)
	}

	// The snapshot: sue's queue, no chat yet, the agents, at least the first sample.
	sue := newLP(t, hs.URL, f.tok["sue"])
	if r := sue.subscribe(ch); !ok(r) {
		t.Fatalf("supervisor subscribe: %+v", r)
	}
	bs := sue.boards(ch)
	snap := bs[0]
	if snap.Type != BoardSnapshot || len(snap.Chats) != 0 || findQueue(snap, "support").Name != "support" || len(snap.Samples) == 0 ||
		snap.IntervalMs != 1000 || snap.SampleIntervalMs != 10000 {
		t.Fatalf("snapshot: %+v", snap)
	}

	// A change right after the snapshot flushes at once (no board was sent in the last
	// interval): Ann's presence.
	if code, _ := f.call("PUT", "/me/state", f.tok["ann"], map[string]any{"state": "not-ready"}); code != 200 {
		t.Fatalf("not-ready: %d", code)
	}
	waitUntil(t, "ann not ready on the board", func() bool {
		for _, b := range sue.boards(ch) {
			for _, p := range b.Agents {
				if p.ID == "ann" && p.State == StateNotReady {
					return true
				}
			}
		}
		return false
	})

	// A customer's chat arrives inside the interval: one board at its end, once routing has
	// queued it (routing tells the board, QueuesChanged), with the longest wait.
	cr := f.newChat(nil)
	routed := func(want int) func() bool {
		return func() bool {
			_, m := f.call("GET", "/supervisor/queues/support", f.tok["sue"], nil)
			l, _ := m["chats"].([]any)
			return len(l) == want
		}
	}
	waitUntil(t, "routing to queue the chat", routed(1))
	waitUntil(t, "the flush timer", func() bool {
		f.api.board.mu.Lock()
		defer f.api.board.mu.Unlock()
		return f.api.board.flushTimer != nil && f.api.board.dirty
	})
	f.clock.advance(time.Second)
	bs = sue.boards(ch)
	up := bs[len(bs)-1]
	if c, _ := findChat(up, cr.ChatID); len(bs) != 1 || up.Type != BoardUpdate || c.State != ChatWaiting || findQueue(up, "support").Waiting != 1 ||
		findQueue(up, "support").LongestWaitSince == nil {
		t.Fatalf("%d boards; update with the chat: %+v", len(bs), up)
	}

	// Coalesced: ann gets ready, is offered the chat, accepts and writes twice; all of it
	// inside the interval, so no board goes until the clock reaches its end, then one.
	// The counter counts after the delivery: wait until it has counted every board received.
	waitUntil(t, "the delivery counter", func() bool { return f.api.st.boards.Load() == uint64(sue.received) })
	sent := f.api.st.boards.Load()
	if code, _ := f.call("PUT", "/me/state", f.tok["ann"], map[string]any{"state": "ready"}); code != 200 {
		t.Fatalf("ready: %d", code)
	}
	f.waitOffer("ann", cr.ChatID)
	f.act("ann", cr.ChatID, "accept", nil, 200)
	f.act("ann", cr.ChatID, "send", map[string]any{"text": "hello"}, 200)
	f.act("ann", cr.ChatID, "send", map[string]any{"text": "how can I help?"}, 200)
	waitUntil(t, "routing to take the chat out of the queue", routed(0))
	waitUntil(t, "the flush timer", func() bool {
		f.api.board.mu.Lock()
		defer f.api.board.mu.Unlock()
		return f.api.board.flushTimer != nil && f.api.board.dirty
	})
	if n := f.api.st.boards.Load(); n != sent {
		t.Fatalf("%d boards delivered inside the interval", n-sent)
	}
	f.clock.advance(time.Second)
	bs = sue.boards(ch)
	if len(bs) != 1 {
		t.Fatalf("%d boards for one interval", len(bs))
	}
	up = bs[0]
	c, _ := findChat(up, cr.ChatID)
	q := findQueue(up, "support")
	if c.State != ChatActive || c.AsyncStatus != chatcore.AsyncProcessing || q.Waiting != 0 || q.Active != 1 || q.LongestWaitSince != nil {
		t.Fatalf("coalesced update: chat %+v queue %+v", c, q)
	}
	var annP Presence
	for _, p := range up.Agents {
		if p.ID == "ann" {
			annP = p
		}
	}
	if annP.State != StateReady || annP.Chats != 1 || !annP.Connected {
		t.Fatalf("ann on the board: %+v", annP)
	}
	waitUntil(t, "the delivery counter", func() bool { return f.api.st.boards.Load() == uint64(sue.received) })
	if n := f.api.st.boards.Load(); n != sent+1 {
		t.Fatalf("%d boards for one interval", n-sent)
	}

	// The next sample (10 s after the first) counts the two messages; it comes in an update.
	f.clock.advance(8 * time.Second)
	var smp Sample
	waitUntil(t, "the sample", func() bool {
		for _, b := range sue.boards(ch) {
			if len(b.Samples) > 0 {
				smp = b.Samples[len(b.Samples)-1]
				return true
			}
		}
		return false
	})
	if smp.Open != 1 || smp.Waiting != 0 || smp.MessagesPerSecond != 2.0/10 {
		t.Fatalf("sample: %+v", smp)
	}

	// A revoked token: the next board is not sent and the subscriber is gone.
	if code, _ := f.call("POST", "/logout", f.tok["sue"], map[string]any{}); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	waitUntil(t, "the delivery counter", func() bool { return f.api.st.boards.Load() == uint64(sue.received) })
	sent = f.api.st.boards.Load()
	f.act("ann", cr.ChatID, "send", map[string]any{"text": "still there?"}, 200)
	f.clock.advance(time.Second)
	waitUntil(t, "the revoked subscriber to go", func() bool { return f.api.board.subscribers() == 0 })
	if n := f.api.st.boards.Load(); n != sent {
		t.Fatalf("%d boards after the token was revoked", n-sent)
	}
}
