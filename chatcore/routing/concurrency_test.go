package routing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// checkSink answers offers from goroutines of its own (accept or reject at random) and
// checks the router's promises as they happen: a chat is offered to one agent at a time,
// an agent never holds more offers than its capacity, a withdrawal follows its offer.
type checkSink struct {
	t        *testing.T
	r        *Router
	capacity int
	wg       sync.WaitGroup

	mu       sync.Mutex
	offered  map[string]string // chat → agent
	perAgent map[string]int
}

func (s *checkSink) Offer(o Offer) {
	s.mu.Lock()
	if a, ok := s.offered[o.ChatID]; ok {
		s.t.Errorf("chat %s offered to %s while offered to %s", o.ChatID, o.AgentID, a)
	}
	s.offered[o.ChatID] = o.AgentID
	s.perAgent[o.AgentID]++
	if s.perAgent[o.AgentID] > s.capacity {
		s.t.Errorf("agent %s holds %d offers (capacity %d)", o.AgentID, s.perAgent[o.AgentID], s.capacity)
	}
	s.mu.Unlock()
	s.wg.Go(func() {
		if rand.IntN(4) == 0 {
			if err := s.r.Reject(o.AgentID, o.ChatID); err != nil && !errors.Is(err, ErrNoOffer) {
				s.t.Error(err)
			}
			return
		}
		_, _, err := s.r.Accept(context.Background(), o.AgentID, o.ChatID)
		if err == nil {
			s.done(o)
		} else if !errors.Is(err, ErrNoOffer) {
			s.t.Error(err)
		}
	})
}

func (s *checkSink) done(o Offer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.offered[o.ChatID] == o.AgentID {
		delete(s.offered, o.ChatID)
		s.perAgent[o.AgentID]--
	}
}

func (s *checkSink) OfferWithdrawn(o Offer, _ Withdrawal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.offered[o.ChatID] != o.AgentID {
		s.t.Errorf("withdrawal of chat %s from %s without its offer", o.ChatID, o.AgentID)
		return
	}
	delete(s.offered, o.ChatID)
	s.perAgent[o.AgentID]--
}

// TestConcurrentRouting: chats arrive while agents change state and answer offers from
// their own goroutines; in the end every chat has exactly one agent, no agent is over its
// capacity, and the router's books match the chats.
func TestConcurrentRouting(t *testing.T) {
	const agents, capacity, chats = 12, 4, 40
	h := newHarness(t, func(c *Config) { c.RejectCooldown = 1 }) // cooldowns end at the next clock step
	sink := &checkSink{t: t, r: h.r, capacity: capacity, offered: map[string]string{}, perAgent: map[string]int{}}
	h.r.SetSink(sink)
	for i := range agents {
		h.login(fmt.Sprintf("a%02d", i), capacity, "sales")
	}
	var wg sync.WaitGroup
	ids := make([]string, chats)
	wg.Go(func() {
		for i := range chats {
			c, err := h.core.CreateChat(context.Background(), chatcore.CreateRequest{Service: "sales", Nickname: "C", UserData: map[string]string{chatcore.PropAsyncMode: "true"}})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = c.ChatID
		}
	})
	wg.Go(func() {
		for range 200 {
			id := fmt.Sprintf("a%02d", rand.IntN(agents))
			st := StateReady
			if rand.IntN(3) == 0 {
				st = StateNotReady
			}
			if err := h.r.SetState(id, st, ""); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	for i := range agents {
		h.state(fmt.Sprintf("a%02d", i), StateReady)
	}
	// A reject excludes its agent until now+RejectCooldown on the router's clock, a manual
	// clock here, and the sink still rejects from its goroutines while this waits: unless the
	// clock moves, a chat rejected by every agent that still has room waits forever (it
	// failed one run in ten to three). Each poll moves it by a millisecond, far below the
	// offer timeout, so cooldowns end and nothing else fires.
	eventually(t, "every chat handled", func() bool {
		h.clock.Advance(time.Millisecond)
		h.r.settle()
		s := h.r.Stats().Queues["sales"]
		return s.Waiting == 0 && s.Offered == 0
	})
	sink.wg.Wait()
	total := 0
	for _, st := range h.r.Agents() {
		if len(st.Chats) > capacity {
			t.Errorf("agent %s in %d chats", st.ID, len(st.Chats))
		}
		total += len(st.Chats)
	}
	if total != chats {
		t.Errorf("%d chats assigned, want %d", total, chats)
	}
	for _, id := range ids {
		v, err := h.core.Chat(id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range v.Participants {
			if p.Present && p.Type == chatcore.Agent {
				n++
			}
		}
		if n != 1 || v.AsyncStatus != chatcore.AsyncProcessing {
			t.Errorf("chat %s: %d agents, status %d", id, n, v.AsyncStatus)
		}
	}
}
