package routing

import (
	"sync"
	"sync/atomic"
	"testing"
)

// queueSink is a sink that also observes queue changes: at each call it reads the queue,
// as a supervisor's board does.
type queueSink struct {
	recSink
	r     atomic.Pointer[Router] // set once New returned; calls before are not recorded
	mu    sync.Mutex
	lists [][]WaitingChat
}

func (s *queueSink) QueuesChanged() {
	r := s.r.Load()
	if r == nil {
		return
	}
	w := r.Waiting("support")
	s.mu.Lock()
	s.lists = append(s.lists, w)
	s.mu.Unlock()
}

func (s *queueSink) sawWaiting(chatID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lists {
		for _, w := range l {
			if w.ChatID == chatID {
				return true
			}
		}
	}
	return false
}

// TestQueueObserver: a chat that enters a queue with no agent to offer it to (no offer, so
// the sink alone would not learn of it) is announced by QueuesChanged, and the queue read
// from the call already has it.
func TestQueueObserver(t *testing.T) {
	qs := &queueSink{}
	h := newHarness(t, func(c *Config) { c.Sink = qs })
	qs.r.Store(h.r)
	c := h.chat("support", nil)
	eventually(t, "QueuesChanged with the new chat waiting", func() bool { return qs.sawWaiting(c.ChatID) })
	if n := len(qs.events()); n != 0 {
		t.Fatalf("%d offers or withdrawals without an agent", n)
	}
}
