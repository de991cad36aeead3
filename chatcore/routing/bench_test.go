package routing

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// Benchmarks run the router on a real core on embedded JetStream (file storage in a temp
// dir) with the manual clock (no offer times out). Results and commands:
// docs/benchmarks.md, "Routing".

const (
	benchAgents  = 1000
	benchWaiting = 10000
)

// countSink counts offers and tells when a target is reached; it records when each chat
// was offered.
type countSink struct {
	offers    atomic.Int64
	withdrawn atomic.Int64
	target    atomic.Int64
	reached   chan struct{}
	mu        sync.Mutex
	at        map[string]time.Time
}

func newCountSink() *countSink {
	return &countSink{reached: make(chan struct{}, 1), at: map[string]time.Time{}}
}

func (s *countSink) Offer(o Offer) {
	now := time.Now()
	s.mu.Lock()
	s.at[o.ChatID] = now
	s.mu.Unlock()
	if s.offers.Add(1) == s.target.Load() {
		s.reached <- struct{}{}
	}
}

func (s *countSink) OfferWithdrawn(Offer, Withdrawal) {
	if s.withdrawn.Add(1) == s.target.Load() {
		s.reached <- struct{}{}
	}
}

func (s *countSink) wait(b *testing.B) {
	select {
	case <-s.reached:
	case <-time.After(60 * time.Second):
		b.Fatalf("sink stuck at %d offers, %d withdrawn", s.offers.Load(), s.withdrawn.Load())
	}
}

// createChats creates n async chats on svc, in parallel.
func createChats(b *testing.B, co *chatcore.Core, svc string, n int) []string {
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := co.CreateChat(context.Background(), chatcore.CreateRequest{Service: svc, Nickname: "Customer", UserData: map[string]string{chatcore.PropAsyncMode: "true"}})
				if err != nil {
					b.Error(err)
					return
				}
				ids[i] = c.ChatID
			}
		})
	}
	wg.Wait()
	return ids
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkOffers: offers/s with 1,000 agents (capacity 10) and 10,000 waiting chats. One
// iteration makes every agent Ready (10,000 offers, timed until the sink has them all), then
// NotReady (the offers are withdrawn, untimed).
func BenchmarkOffers(b *testing.B) {
	h := newHarness(b, nil)
	createChats(b, h.core, "q", benchWaiting)
	kv := h.r.cfg.KV
	h.r.Close() // the measured router derives the queue from the stored chats
	sink := newCountSink()
	r, err := New(context.Background(), Config{Core: h.core, KV: kv, Sink: sink, Clock: h.clock})
	if err != nil {
		b.Fatal(err)
	}
	h.r = r
	if n := len(r.Waiting("q")); n != benchWaiting {
		b.Fatalf("%d waiting", n)
	}
	for i := range benchAgents {
		if err := r.Login(Agent{ID: fmt.Sprintf("agent%04d", i), Nickname: "Agent", Queues: []string{"q"}, Capacity: 10}); err != nil {
			b.Fatal(err)
		}
	}
	var timed time.Duration
	for b.Loop() {
		sink.offers.Store(0)
		sink.withdrawn.Store(0)
		sink.target.Store(benchWaiting)
		start := time.Now()
		for i := range benchAgents {
			if err := r.SetState(fmt.Sprintf("agent%04d", i), StateReady, ""); err != nil {
				b.Fatal(err)
			}
		}
		sink.wait(b)
		timed += time.Since(start)
		for i := range benchAgents {
			if err := r.SetState(fmt.Sprintf("agent%04d", i), StateNotReady, ""); err != nil {
				b.Fatal(err)
			}
		}
		sink.wait(b)
	}
	b.ReportMetric(float64(benchWaiting*b.N)/timed.Seconds(), "offers/s")
}

// BenchmarkMessageToOffer: time from a customer's message (the call to SendMessage) to the
// agent's offer in the sink, with 1,000 Ready agents and 10,000 other chats waiting in a
// queue they do not serve. The chat is on hold before each message (accept and hold,
// untimed).
func BenchmarkMessageToOffer(b *testing.B) {
	h := newHarness(b, nil)
	createChats(b, h.core, "backlog", benchWaiting)
	sink := newCountSink()
	h.r.SetSink(sink)
	for i := range benchAgents {
		id := fmt.Sprintf("agent%04d", i)
		if err := h.r.Login(Agent{ID: id, Nickname: "Agent", Queues: []string{"q"}, Capacity: 1}); err != nil {
			b.Fatal(err)
		}
		if err := h.r.SetState(id, StateReady, ""); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	cr, err := h.core.CreateChat(ctx, chatcore.CreateRequest{Service: "q", Nickname: "Ann", UserData: map[string]string{chatcore.PropAsyncMode: "true"}})
	if err != nil {
		b.Fatal(err)
	}
	hold := func() {
		var o []Offer
		eventually(b, "the offer", func() bool {
			for _, ag := range h.r.Agents() {
				if len(ag.Offers) > 0 {
					o = h.r.Offers(ag.ID)
					return true
				}
			}
			return false
		})
		if _, _, err := h.r.Accept(ctx, o[0].AgentID, cr.ChatID); err != nil {
			b.Fatal(err)
		}
		if _, err := h.core.Hold(ctx, cr.ChatID, o[0].AgentID); err != nil {
			b.Fatal(err)
		}
		h.r.settle()
	}
	hold()
	if n := len(h.r.Waiting("backlog")); n != benchWaiting {
		b.Fatalf("%d waiting", n)
	}
	var lat []time.Duration
	for b.Loop() {
		sink.offers.Store(0)
		sink.target.Store(1)
		start := time.Now()
		if _, err := h.core.SendMessage(ctx, cr.ChatID, cr.UserID, "hello again", ""); err != nil {
			b.Fatal(err)
		}
		sink.wait(b)
		sink.mu.Lock()
		lat = append(lat, sink.at[cr.ChatID].Sub(start))
		sink.mu.Unlock()
		b.StopTimer()
		hold()
		h.clock.Advance(time.Second) // under the core's per-participant event rate
		b.StartTimer()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkAgentMemory: heap per logged-in Ready agent (profile, state, queue index),
// 1,000 agents per iteration.
func BenchmarkAgentMemory(b *testing.B) {
	h := newHarness(b, nil)
	n := 0
	var total uint64
	for b.Loop() {
		before := heapInUse()
		for range benchAgents {
			id := fmt.Sprintf("agent%d", n)
			n++
			if err := h.r.Login(Agent{ID: id, Nickname: "Agent " + id, Queues: []string{"sales", "billing"}, Capacity: 5}); err != nil {
				b.Fatal(err)
			}
			if err := h.r.SetState(id, StateReady, ""); err != nil {
				b.Fatal(err)
			}
		}
		h.r.settle()
		total += heapInUse() - before
	}
	b.ReportMetric(float64(total)/float64(b.N*benchAgents), "B/agent")
}
