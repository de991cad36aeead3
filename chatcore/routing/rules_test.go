package routing

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// TestRules table-tests the routing rules on the manual clock, on a real core and store.
func TestRules(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		mod  func(*Config)
		run  func(t *testing.T, h *harness)
	}{
		{"FIFO within a queue", nil, func(t *testing.T, h *harness) {
			var ids []string
			for range 3 {
				ids = append(ids, h.chat("sales", nil).ChatID)
				h.clock.Advance(time.Second)
			}
			h.login("a", 3, "sales")
			h.state("a", StateReady)
			h.wantOffered("a", ids...)
			if got := h.sink.offerOrder(); !slices.Equal(got, ids) {
				t.Fatalf("offer order %v, want %v", got, ids)
			}
		}},
		{"priority before age, FIFO within a priority", func(c *Config) {
			c.Services = map[string]Service{"std": {Queue: "q"}, "vip": {Queue: "q", Priority: 10}}
		}, func(t *testing.T, h *harness) {
			std1 := h.chat("std", nil).ChatID
			h.clock.Advance(time.Second)
			vip1 := h.chat("vip", nil).ChatID
			h.clock.Advance(time.Second)
			std2 := h.chat("std", nil).ChatID
			h.clock.Advance(time.Second)
			vip2 := h.chat("vip", nil).ChatID
			h.r.settle()
			for i, id := range []string{vip1, vip2, std1, std2} {
				p, err := h.r.Position(id)
				if err != nil || p.Position != i+1 || p.Queue != "q" {
					t.Fatalf("position of chat %d: %+v %v", i, p, err)
				}
			}
			h.login("a", 1, "q")
			h.state("a", StateReady)
			h.wantOffered("a", vip1)
			h.accept("a", vip1)
			h.wantOffered("a") // at capacity
			if _, err := h.core.Hold(ctx, vip1, "a"); err != nil {
				t.Fatal(err)
			}
			h.wantOffered("a", vip2)
		}},
		{"capacity: offers count, a freed slot takes the next chat", nil, func(t *testing.T, h *harness) {
			c1 := h.chat("sales", nil).ChatID
			h.clock.Advance(time.Second)
			c2 := h.chat("sales", nil).ChatID
			h.clock.Advance(time.Second)
			c3 := h.chat("sales", nil).ChatID
			h.login("a", 2, "sales")
			h.state("a", StateReady)
			h.wantOffered("a", c1, c2)
			h.accept("a", c1)
			h.wantOffered("a", c2)
			st, _ := h.r.Agent("a")
			if !slices.Equal(st.Chats, []string{c1}) {
				t.Fatalf("agent chats %v", st.Chats)
			}
			if _, err := h.core.EndChat(ctx, c1, "a"); err != nil {
				t.Fatal(err)
			}
			h.wantOffered("a", c2, c3)
		}},
		{"timeout → next agent; the silent agent becomes not ready", nil, func(t *testing.T, h *harness) {
			id := h.chat("sales", nil).ChatID
			h.login("a", 1, "sales")
			h.login("b", 1, "sales")
			h.state("a", StateReady)
			h.wantOffered("a", id) // equal load, never offered: the smaller id
			h.state("b", StateReady)
			h.advance(DefaultOfferTimeout - time.Second)
			h.wantOffered("a", id)
			h.advance(time.Second)
			h.wantOffered("a")
			h.wantOffered("b", id)
			if w := h.sink.withdrawals(id); !slices.Equal(w, []Withdrawal{WithdrawTimeout}) {
				t.Fatalf("withdrawals %v", w)
			}
			if st, _ := h.r.Agent("a"); st.State != StateNotReady || st.Reason != "offer-timeout" {
				t.Fatalf("agent a: %s %q", st.State, st.Reason)
			}
			if s := h.r.Stats(); s.TimedOut != 1 || s.Offers != 2 {
				t.Fatalf("stats: %+v", s)
			}
		}},
		{"KeepReadyOnTimeout keeps the agent ready", func(c *Config) { c.KeepReadyOnTimeout = true }, func(t *testing.T, h *harness) {
			h.chat("sales", nil)
			h.login("a", 1, "sales")
			h.state("a", StateReady)
			h.advance(DefaultOfferTimeout)
			if st, _ := h.r.Agent("a"); st.State != StateReady {
				t.Fatalf("agent a: %s", st.State)
			}
		}},
		{"reject → next agent, the rejecting agent cools down", func(c *Config) { c.RejectCooldown = time.Minute }, func(t *testing.T, h *harness) {
			id := h.chat("sales", nil).ChatID
			h.login("a", 1, "sales")
			h.state("a", StateReady)
			h.wantOffered("a", id)
			if err := h.r.Reject("a", id); err != nil {
				t.Fatal(err)
			}
			h.wantOffered("a") // alone, but cooling down
			h.login("b", 1, "sales")
			h.state("b", StateReady)
			h.wantOffered("b", id)
			if err := h.r.Reject("b", id); err != nil {
				t.Fatal(err)
			}
			h.wantOffered("b")
			h.advance(time.Minute)
			h.wantOffered("a", id)
		}},
		{"not-ready and logged-out agents are skipped", nil, func(t *testing.T, h *harness) {
			h.login("a", 5, "sales")
			h.login("b", 5, "sales")
			h.login("c", 5, "sales")
			h.state("b", StateReady)
			h.state("c", StateReady)
			h.state("c", StateLoggedOut)
			id := h.chat("sales", nil).ChatID
			h.wantOffered("b", id)
			h.wantOffered("a")
			if _, ok := h.r.Agent("c"); ok {
				t.Fatal("c still logged in")
			}
		}},
		{"an agent leaving ready withdraws its offers to the next agent", nil, func(t *testing.T, h *harness) {
			id := h.chat("sales", nil).ChatID
			h.login("a", 1, "sales")
			h.state("a", StateReady)
			h.wantOffered("a", id)
			h.login("b", 1, "sales")
			h.state("b", StateReady)
			if err := h.r.SetState("a", StateNotReady, "break"); err != nil {
				t.Fatal(err)
			}
			h.wantOffered("b", id)
			if w := h.sink.withdrawals(id); !slices.Equal(w, []Withdrawal{WithdrawAgent}) {
				t.Fatalf("withdrawals %v", w)
			}
			if st, _ := h.r.Agent("a"); st.Reason != "break" {
				t.Fatalf("reason %q", st.Reason)
			}
		}},
		{"skills: an agent gets only its queues' chats", func(c *Config) {
			c.Services = map[string]Service{"billing": {Queue: "money"}}
		}, func(t *testing.T, h *harness) {
			b := h.chat("billing", nil).ChatID
			s := h.chat("sales", nil).ChatID
			h.login("a", 5, "sales")
			h.login("m", 5, "money")
			h.state("a", StateReady)
			h.state("m", StateReady)
			h.wantOffered("a", s)
			h.wantOffered("m", b)
		}},
		{"last agent preferred within the window, then anyone", func(c *Config) { c.LastAgentWindow = time.Hour }, func(t *testing.T, h *harness) {
			cr := h.chat("sales", nil)
			h.login("a", 5, "sales")
			h.login("b", 5, "sales")
			h.state("b", StateReady)
			h.wantOffered("b", cr.ChatID)
			h.accept("b", cr.ChatID)
			if _, err := h.core.Hold(ctx, cr.ChatID, "b"); err != nil {
				t.Fatal(err)
			}
			h.state("a", StateReady) // a: lower load, older last offer: a would win without the preference
			h.clock.Advance(59 * time.Minute)
			if _, err := h.core.SendMessage(ctx, cr.ChatID, cr.UserID, "back again", ""); err != nil {
				t.Fatal(err)
			}
			h.wantOffered("b", cr.ChatID)
			if o := h.r.Offers("b"); !o[0].LastAgent {
				t.Fatalf("offer not marked LastAgent: %+v", o[0])
			}
			h.accept("b", cr.ChatID)
			if _, err := h.core.Hold(ctx, cr.ChatID, "b"); err != nil {
				t.Fatal(err)
			}
			h.r.settle()
			h.clock.Advance(time.Hour)
			if _, err := h.core.SendMessage(ctx, cr.ChatID, cr.UserID, "two hours later", ""); err != nil {
				t.Fatal(err)
			}
			h.wantOffered("a", cr.ChatID)
		}},
		{"last agent not ready → anyone at once", nil, func(t *testing.T, h *harness) {
			cr := h.chat("sales", nil)
			h.login("a", 5, "sales")
			h.login("b", 5, "sales")
			h.state("b", StateReady)
			h.wantOffered("b", cr.ChatID)
			h.accept("b", cr.ChatID)
			if _, err := h.core.Hold(ctx, cr.ChatID, "b"); err != nil {
				t.Fatal(err)
			}
			h.state("b", StateNotReady)
			h.state("a", StateReady)
			if _, err := h.core.SendMessage(ctx, cr.ChatID, cr.UserID, "hello?", ""); err != nil {
				t.Fatal(err)
			}
			h.wantOffered("a", cr.ChatID)
		}},
		{"last agent of the same customer in a new chat (CustomerKey)", nil, func(t *testing.T, h *harness) {
			first := h.chat("sales", map[string]string{"EmailAddress": "ann@example.com"}).ChatID
			h.login("a", 5, "sales")
			h.login("b", 5, "sales")
			h.state("b", StateReady)
			h.wantOffered("b", first)
			h.accept("b", first)
			if _, err := h.core.EndChat(ctx, first, "b"); err != nil {
				t.Fatal(err)
			}
			h.state("a", StateReady)
			h.clock.Advance(48 * time.Hour)
			other := h.chat("sales", map[string]string{"EmailAddress": "someone@example.com"}).ChatID
			h.wantOffered("a", other)
			again := h.chat("sales", map[string]string{"EmailAddress": " Ann@Example.com"}).ChatID
			h.wantOffered("b", again)
		}},
		{"no agent ready: the chat waits and the customer gets the notice once", func(c *Config) {
			c.Default = Service{NoAgentNotice: "All agents are busy. You are number {position}; wait {wait}."}
		}, func(t *testing.T, h *harness) {
			h.chat("sales", nil)
			cr := h.chat("sales", nil)
			var notice chatcore.Event
			eventually(t, "the no-agent notice", func() bool {
				evs, err := transcript(ctx, h.core, cr.ChatID)
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range evs {
					if ev.Type == chatcore.EventNotice && ev.UserData[NoticeKey] == "no-agent" {
						notice = ev
						return true
					}
				}
				return false
			})
			if notice.Text != "All agents are busy. You are number 2; wait unknown." || notice.From.Type != chatcore.External {
				t.Fatalf("notice %+v", notice)
			}
			v, _ := h.core.Chat(cr.ChatID)
			if v.AsyncStatus != chatcore.AsyncCreated {
				t.Fatalf("status after the notice: %d", v.AsyncStatus)
			}
			// The customer writes: still waiting, no second notice.
			if _, err := h.core.SendMessage(ctx, cr.ChatID, cr.UserID, "anyone?", ""); err != nil {
				t.Fatal(err)
			}
			h.r.settle()
			h.login("a", 1, "other")
			h.state("a", StateReady)
			h.r.settle()
			if _, err := h.core.SystemNotice(ctx, cr.ChatID, "marker", nil); err != nil {
				t.Fatal(err)
			}
			evs, _ := transcript(ctx, h.core, cr.ChatID)
			n := 0
			for _, ev := range evs {
				if ev.UserData[NoticeKey] != "" {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d notices", n)
			}
		}},
		{"a chat that can be offered at once gets no notice", func(c *Config) {
			c.Default = Service{NoAgentNotice: "busy"}
		}, func(t *testing.T, h *harness) {
			h.login("a", 1, "sales")
			h.state("a", StateReady)
			cr := h.chat("sales", nil)
			h.wantOffered("a", cr.ChatID)
			h.r.settle()
			evs, _ := transcript(ctx, h.core, cr.ChatID)
			for _, ev := range evs {
				if ev.Type == chatcore.EventNotice {
					t.Fatalf("notice sent: %+v", ev)
				}
			}
		}},
		{"position and estimated wait", nil, func(t *testing.T, h *harness) {
			var ids []string
			for range 4 {
				ids = append(ids, h.chat("sales", nil).ChatID)
				h.clock.Advance(time.Second)
			}
			h.r.settle()
			p, err := h.r.Position(ids[2])
			if err != nil || p.Position != 3 || p.Waiting != 4 || p.EstimateKnown {
				t.Fatalf("position %+v %v", p, err)
			}
			h.login("a", 1, "sales")
			h.state("a", StateReady)
			h.wantOffered("a", ids[0])
			if p, _ := h.r.Position(ids[0]); !p.Offered || p.Position != 0 {
				t.Fatalf("offered chat's position %+v", p)
			}
			h.advance(10 * time.Second)
			h.accept("a", ids[0])
			if _, err := h.core.Hold(ctx, ids[0], "a"); err != nil {
				t.Fatal(err)
			}
			h.wantOffered("a", ids[1])
			h.advance(20 * time.Second)
			h.accept("a", ids[1])
			p, _ = h.r.Position(ids[3])
			if p.Position != 2 || !p.EstimateKnown || p.EstimatedWait != 40*time.Second {
				t.Fatalf("position %+v", p)
			}
			w := h.r.Waiting("sales")
			if len(w) != 2 || w[0].ChatID != ids[2] || w[1].ChatID != ids[3] || w[0].Position != 1 {
				t.Fatalf("waiting %+v", w)
			}
			if _, err := h.r.Position(ids[1]); !errors.Is(err, ErrNotQueued) {
				t.Fatalf("accepted chat: %v", err)
			}
		}},
		{"a chat that ends while offered is withdrawn", nil, func(t *testing.T, h *harness) {
			cr := h.chat("sales", nil)
			h.login("a", 1, "sales")
			h.state("a", StateReady)
			h.wantOffered("a", cr.ChatID)
			if _, err := h.core.Disconnect(ctx, cr.ChatID, cr.UserID); err != nil {
				t.Fatal(err)
			}
			h.wantOffered("a")
			if w := h.sink.withdrawals(cr.ChatID); !slices.Equal(w, []Withdrawal{WithdrawChat}) {
				t.Fatalf("withdrawals %v", w)
			}
			if _, _, err := h.r.Accept(ctx, "a", cr.ChatID); !errors.Is(err, ErrNoOffer) {
				t.Fatalf("accept of a withdrawn offer: %v", err)
			}
		}},
		{"accept joins the agent; refusals change nothing", nil, func(t *testing.T, h *harness) {
			cr := h.chat("sales", nil)
			h.login("a", 1, "sales")
			h.login("b", 1, "sales")
			h.state("a", StateReady)
			h.wantOffered("a", cr.ChatID)
			if _, _, err := h.r.Accept(ctx, "b", cr.ChatID); !errors.Is(err, ErrNoOffer) {
				t.Fatalf("accept by another agent: %v", err)
			}
			if err := h.r.Reject("b", cr.ChatID); !errors.Is(err, ErrNoOffer) {
				t.Fatalf("reject by another agent: %v", err)
			}
			h.wantOffered("a", cr.ChatID)
			h.advance(3 * time.Second)
			p, res, err := h.r.Accept(ctx, "a", cr.ChatID)
			if err != nil || p.UserID != "a" || p.Type != chatcore.Agent || p.Nickname != "Agent a" {
				t.Fatalf("accept: %+v %v", p, err)
			}
			if res.Chat.AsyncStatus != chatcore.AsyncProcessing {
				t.Fatalf("status %d", res.Chat.AsyncStatus)
			}
			h.r.settle()
			if _, _, err := h.r.Accept(ctx, "a", cr.ChatID); !errors.Is(err, ErrNoOffer) {
				t.Fatalf("second accept: %v", err)
			}
			h.advance(5 * time.Minute)
			if _, err := h.core.Hold(ctx, cr.ChatID, "a"); err != nil {
				t.Fatal(err)
			}
			h.r.settle()
			s := h.r.Stats()
			if s.Accepted != 1 || s.TimeToAccept.Count != 1 || s.TimeToAccept.Sum != 3 || s.HandleTime.Count != 1 || s.HandleTime.Sum != 300 {
				t.Fatalf("stats %+v", s)
			}
		}},
		{"a regular (not async) chat is routed too", nil, func(t *testing.T, h *harness) {
			c, err := h.core.CreateChat(ctx, chatcore.CreateRequest{Service: "sales", Nickname: "Bob"})
			if err != nil {
				t.Fatal(err)
			}
			h.login("a", 1, "sales")
			h.state("a", StateReady)
			h.wantOffered("a", c.ChatID)
		}},
		{"agent lost (status 4): routed again, the lost agent first", nil, func(t *testing.T, h *harness) {
			cr := h.chat("sales", nil)
			h.login("a", 1, "sales")
			h.login("b", 1, "sales")
			h.state("b", StateReady)
			h.wantOffered("b", cr.ChatID)
			h.accept("b", cr.ChatID)
			h.state("a", StateReady)
			// b's desktop is lost; it comes back with a new session, then the agent API
			// reports the loss (grace period over).
			h.state("b", StateLoggedOut)
			h.login("b", 1, "sales")
			h.state("b", StateReady)
			h.wantOffered("a")
			res, err := h.core.AgentLost(ctx, cr.ChatID, "b")
			if err != nil || res.Chat.AsyncStatus != 4 {
				t.Fatalf("agent lost: %d %v", res.Chat.AsyncStatus, err)
			}
			h.wantOffered("b", cr.ChatID) // a (never offered anything) would win without the preference
			h.wantOffered("a")
		}},
		{"agent lost with nobody ready: the chat waits in its place", nil, func(t *testing.T, h *harness) {
			cr := h.chat("sales", nil)
			h.login("b", 1, "sales")
			h.state("b", StateReady)
			h.wantOffered("b", cr.ChatID)
			h.accept("b", cr.ChatID)
			h.state("b", StateLoggedOut)
			if _, err := h.core.AgentLost(ctx, cr.ChatID, "b"); err != nil {
				t.Fatal(err)
			}
			h.r.settle()
			if p, err := h.r.Position(cr.ChatID); err != nil || p.Position != 1 {
				t.Fatalf("position %+v %v", p, err)
			}
		}},
		{"released to a queue (status 5): no preference, the releasing agent skipped", func(c *Config) { c.RejectCooldown = time.Minute }, func(t *testing.T, h *harness) {
			cr := h.chat("sales", nil)
			h.login("a", 1, "sales")
			h.login("b", 1, "sales")
			h.state("b", StateReady)
			h.wantOffered("b", cr.ChatID)
			h.accept("b", cr.ChatID)
			h.state("a", StateReady)
			h.wantOffered("a")
			res, err := h.core.ReleaseToQueue(ctx, cr.ChatID, "b")
			if err != nil || res.Chat.AsyncStatus != AsyncReleased {
				t.Fatalf("release: %d %v", res.Chat.AsyncStatus, err)
			}
			h.wantOffered("a", cr.ChatID)
			if o := h.r.Offers("a"); o[0].LastAgent {
				t.Fatal("released chat offered as last agent")
			}
			if err := h.r.Reject("a", cr.ChatID); err != nil {
				t.Fatal(err)
			}
			h.wantOffered("b") // released it a moment ago
			h.advance(time.Minute)
			if got := append(h.offered("a"), h.offered("b")...); len(got) != 1 {
				t.Fatalf("after the cooldown: %v", got)
			}
		}},
		{"a bot handles the chat until it releases it to the queue", nil, func(t *testing.T, h *harness) {
			cr := h.chat("sales", nil)
			if _, _, err := h.core.Join(ctx, cr.ChatID, chatcore.JoinRequest{Type: chatcore.External, Nickname: "Bot", UserID: "bot1", Bot: true}); err != nil {
				t.Fatal(err)
			}
			h.login("a", 1, "sales")
			h.state("a", StateReady)
			h.wantOffered("a")
			if _, err := h.core.ReleaseToQueue(ctx, cr.ChatID, "bot1"); err != nil {
				t.Fatal(err)
			}
			h.wantOffered("a", cr.ChatID)
		}},
		{"transfer moves the load from one agent to the other", nil, func(t *testing.T, h *harness) {
			c1 := h.chat("sales", nil).ChatID
			h.clock.Advance(time.Second)
			c2 := h.chat("sales", nil).ChatID
			h.login("a", 1, "sales")
			h.state("a", StateReady)
			h.wantOffered("a", c1)
			h.accept("a", c1)
			h.login("b", 1, "other")
			if _, _, err := h.core.Transfer(ctx, c1, "a", chatcore.JoinRequest{Type: chatcore.Agent, Nickname: "B", UserID: "b"}); err != nil {
				t.Fatal(err)
			}
			h.wantOffered("a", c2)
			if st, _ := h.r.Agent("b"); !slices.Equal(st.Chats, []string{c1}) {
				t.Fatalf("b's chats %v", st.Chats)
			}
		}},
		{"invalid calls", nil, func(t *testing.T, h *harness) {
			if err := h.r.Login(Agent{ID: ""}); !errors.Is(err, ErrInvalid) {
				t.Fatal(err)
			}
			if err := h.r.Login(Agent{ID: "x", Capacity: -1}); !errors.Is(err, ErrInvalid) {
				t.Fatal(err)
			}
			if err := h.r.SetState("nobody", StateReady, ""); !errors.Is(err, ErrUnknownAgent) {
				t.Fatal(err)
			}
			h.login("a", 1)
			if err := h.r.SetState("a", "dancing", ""); !errors.Is(err, ErrInvalid) {
				t.Fatal(err)
			}
			if st, _ := h.r.Agent("a"); st.State != StateNotReady {
				t.Fatalf("state %s", st.State)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			h := newHarness(t, tc.mod)
			tc.run(t, h)
		})
	}
}

func TestParseService(t *testing.T) {
	s, err := ParseService(map[string]string{"queue": " vip ", "priority": "5", "no-agent-notice": "Please wait ({position})."})
	if err != nil || s != (Service{Queue: "vip", Priority: 5, NoAgentNotice: "Please wait ({position})."}) {
		t.Fatalf("%+v %v", s, err)
	}
	for _, bad := range []map[string]string{{"priority": "high"}, {"queues": "x"}} {
		if _, err := ParseService(bad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%v: %v", bad, err)
		}
	}
}

// TestSetServices: a reload applies to chats that start to wait afterwards.
func TestSetServices(t *testing.T) {
	h := newHarness(t, nil)
	before := h.chat("sales", nil).ChatID
	h.r.settle()
	h.r.SetServices(map[string]Service{"sales": {Queue: "new"}}, Service{})
	after := h.chat("sales", nil).ChatID
	h.r.settle()
	if p, _ := h.r.Position(before); p.Queue != "sales" {
		t.Fatalf("waiting chat moved to %q", p.Queue)
	}
	if p, _ := h.r.Position(after); p.Queue != "new" {
		t.Fatalf("new chat in %q", p.Queue)
	}
}

// autoAnswer accepts every offer from inside Offer (chat.auto-answer): the sink calls back
// into the router, which must hold no lock while it delivers.
type autoAnswer struct {
	r    *Router
	errs chan error
}

func (a *autoAnswer) Offer(o Offer) {
	_, _, err := a.r.Accept(context.Background(), o.AgentID, o.ChatID)
	a.errs <- err
}

func (a *autoAnswer) OfferWithdrawn(Offer, Withdrawal) {}

func TestSinkMayCallBack(t *testing.T) {
	h := newHarness(t, nil)
	aa := &autoAnswer{r: h.r, errs: make(chan error, 4)}
	h.r.SetSink(aa)
	h.login("a", 2, "sales")
	h.state("a", StateReady)
	c1 := h.chat("sales", nil).ChatID
	c2 := h.chat("sales", nil).ChatID
	for range 2 {
		select {
		case err := <-aa.errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no offer accepted")
		}
	}
	h.r.settle()
	st, _ := h.r.Agent("a")
	got := slices.Sorted(slices.Values(st.Chats))
	want := slices.Sorted(slices.Values([]string{c1, c2}))
	if !slices.Equal(got, want) || len(st.Offers) != 0 {
		t.Fatalf("agent a: chats %v offers %v", st.Chats, st.Offers)
	}
	for _, id := range want {
		if v, _ := h.core.Chat(id); v.AsyncStatus != chatcore.AsyncProcessing {
			t.Fatalf("chat %s status %d", id, v.AsyncStatus)
		}
	}
}

// TestStateChangeDuringAccept: an agent leaves Ready while its accept's Join is on the way
// (the attack the concurrency test found: the offer was withdrawn and given to a second
// agent, and both joined). The accepted offer stands; nobody else is offered the chat.
func TestStateChangeDuringAccept(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	cr := h.chat("sales", nil)
	h.login("a", 1, "sales")
	h.login("b", 1, "sales")
	h.state("a", StateReady)
	h.wantOffered("a", cr.ChatID)
	remove := h.core.AddListener(chatcore.ListenerFuncs{Event: func(_ chatcore.ChatView, ev chatcore.Event) {
		if ev.Type == chatcore.EventParticipantJoined && ev.From.UserID == "a" {
			// Inside Join, before Accept returns.
			if err := h.r.SetState("a", StateNotReady, "break"); err != nil {
				t.Error(err)
			}
			if err := h.r.SetState("b", StateReady, ""); err != nil {
				t.Error(err)
			}
		}
	}})
	defer remove()
	if _, _, err := h.r.Accept(ctx, "a", cr.ChatID); err != nil {
		t.Fatal(err)
	}
	h.wantOffered("b")
	st, _ := h.r.Agent("a")
	if !slices.Equal(st.Chats, []string{cr.ChatID}) || st.State != StateNotReady {
		t.Fatalf("agent a: %+v", st)
	}
	if w := h.sink.withdrawals(cr.ChatID); len(w) != 0 {
		t.Fatalf("withdrawals %v", w)
	}
}
