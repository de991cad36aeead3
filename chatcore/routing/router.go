package routing

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/internal/deadline"
)

// Router routes the chats of one chatcore.Core to the agents logged in on this node.
type Router struct {
	cfg   Config
	core  *chatcore.Core
	clock chatcore.Clock
	log   *slog.Logger
	sink  atomic.Pointer[sinkBox]

	persist *persister
	notices *noticer

	mu         sync.Mutex
	closed     bool
	dirty      map[string]marks // chats to re-read (from the listener)
	agents     map[string]*agent
	queues     map[string]*queue
	entries    map[string]*entry               // waiting or offered chats
	preferring map[string]map[string]*entry    // agent → entries preferring it
	handling   map[string]map[string]time.Time // chat → agents in it → since
	chatsOf    map[string]map[string]struct{}  // agent → chats it is in (logged in or not): its load
	last       map[string]lastRec              // "c.<chat>" / "k.<hash>" → last agent
	waitRecs   map[string]waitRec              // loaded at start, consumed by the first pass
	dl         *deadline.Queue                 // "o:<chat>" offer expiry, "x:<chat>" cooldown end, "r:<chat>" read retry, "s:" sweep
	todoChats  map[*entry]struct{}
	todoAgents map[*agent]struct{}
	outbox     []func()
	delivering bool
	starting   bool // the first pass, in New
	seq        uint64
	st         counters

	wake    chan struct{}
	barrier chan chan struct{} // settle: a pass of the loop, then the channel is closed
	stop    chan struct{}
	loopWG  sync.WaitGroup // run
	wg      sync.WaitGroup // persister, noticer
	remove  func()
}

type sinkBox struct{ s OfferSink }

// readRetry is how long a chat whose state could not be read waits before the next read.
const readRetry = time.Second

// New derives the queues from the core's chats (every chat is looked at before New
// returns), attaches a listener to the core and starts the router's goroutines. Close
// stops them.
func New(ctx context.Context, cfg Config) (*Router, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	r := &Router{
		cfg: cfg, core: cfg.Core, clock: cfg.Clock, log: cfg.Logger.With("component", "routing"),
		dirty: map[string]marks{}, agents: map[string]*agent{}, queues: map[string]*queue{},
		entries: map[string]*entry{}, preferring: map[string]map[string]*entry{},
		handling: map[string]map[string]time.Time{}, chatsOf: map[string]map[string]struct{}{},
		last: map[string]lastRec{}, waitRecs: map[string]waitRec{}, dl: deadline.New(), st: newCounters(),
		todoChats: map[*entry]struct{}{}, todoAgents: map[*agent]struct{}{},
		wake: make(chan struct{}, 1), barrier: make(chan chan struct{}), stop: make(chan struct{}),
	}
	r.SetSink(cfg.Sink)
	now := r.clock.Now()
	if err := r.loadKV(ctx, now); err != nil {
		return nil, err
	}
	r.persist = newPersister(cfg.KV, cfg.StoreTimeout, r.log)
	r.notices = newNoticer(cfg.Core, cfg.StoreTimeout, r.log)
	// Listener first, then every chat: a change made during the scan is looked at again.
	r.remove = cfg.Core.AddListener(chatcore.ListenerFuncs{
		Event: func(v chatcore.ChatView, ev chatcore.Event) {
			switch {
			case ev.Type == chatcore.EventParticipantLeft && ev.From.Type != chatcore.Client,
				ev.Type == chatcore.EventParticipantJoined && ev.From.Type == chatcore.Client:
				r.markWait(v.ID, true) // may start a wait (an agent or bot left; a regular chat began)
			case ev.Type == chatcore.EventParticipantJoined || ev.Type == chatcore.EventParticipantLeft:
				r.markWait(v.ID, false)
			}
		},
		Properties: func(v chatcore.ChatView, changed map[string]string) {
			s, ok := changed[chatcore.PropAsyncStatus]
			r.markWait(v.ID, ok && s != "" && s[0] != '-' && s != "0")
		},
	})
	for _, id := range cfg.Core.ChatIDs() {
		r.dirty[id] = marks{first: now}
	}
	if cfg.LastAgentWindow > 0 {
		r.dl.Set("s:", now.Add(sweepEvery))
	}
	r.starting = true
	r.step()
	r.mu.Lock()
	r.starting = false
	// Wait records of chats that no longer wait are stale.
	for id := range r.waitRecs {
		r.persist.del(waitKey(id))
	}
	r.waitRecs = nil
	r.mu.Unlock()
	r.flush()
	r.loopWG.Add(1)
	go r.run()
	r.wg.Add(2)
	go r.persist.run(&r.wg)
	go r.notices.run(&r.wg)
	return r, nil
}

// SetSink sets where offers go (the agent API, created after the Router).
func (r *Router) SetSink(s OfferSink) { r.sink.Store(&sinkBox{s}) }

// Close detaches from the core, stops the loop and the notice goroutine, and writes what
// is still pending to KV.
func (r *Router) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	r.remove()
	close(r.stop)
	r.loopWG.Wait()
	r.persist.close()
	r.notices.close()
	r.wg.Wait()
}

// settle returns once the loop has made a pass after the call: everything marked, poked
// or fallen due before settle was called has been decided and delivered to the sink.
func (r *Router) settle() {
	done := make(chan struct{})
	select {
	case r.barrier <- done:
		<-done
	case <-r.stop:
	}
}

// marks say when a chat was marked: first since it was last read, and the latest change
// that can start a wait (so a wait starts when it did, not when the loop got to it).
type marks struct{ first, waitFrom time.Time }

// mark queues a chat to be re-read by the loop (never blocks).
func (r *Router) mark(chatID string) { r.markWait(chatID, false) }

// markWait is mark from the listener; waitStart says the change may start a wait.
func (r *Router) markWait(chatID string, waitStart bool) {
	now := r.clock.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	m, ok := r.dirty[chatID]
	if !ok {
		m.first = now
	}
	if waitStart {
		m.waitFrom = now
	}
	r.dirty[chatID] = m
	r.mu.Unlock()
	r.poke()
}

func (r *Router) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run is the loop: it makes every routing decision, woken by poke or the deadline timer.
func (r *Router) run() {
	defer r.loopWG.Done()
	var t chatcore.Timer
	var at time.Time
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		var tc <-chan time.Time
		if t != nil {
			tc = t.C()
		}
		var done chan struct{}
		select {
		case <-r.stop:
			return
		case <-r.wake:
		case done = <-r.barrier:
		case <-tc:
			t, at = nil, time.Time{}
		}
		next, changed := r.step()
		r.flush()
		if changed {
			if qo, ok := r.sink.Load().s.(QueueObserver); ok {
				qo.QueuesChanged()
			}
		}
		if done != nil {
			close(done)
		}
		if !next.Equal(at) {
			if t != nil {
				t.Stop()
			}
			t, at = nil, next
			if !next.IsZero() {
				t = r.clock.Timer(next)
			}
		}
	}
}

// step re-reads the marked chats, fires due deadlines and matches. It returns the next
// deadline (zero for none) and whether it read a chat or fired a deadline (the queues may
// have changed).
func (r *Router) step() (next time.Time, changed bool) {
	type read struct {
		id     string
		marked time.Time
		v      chatcore.ChatView
		ok     bool
	}
	r.mu.Lock()
	reads := make([]read, 0, len(r.dirty))
	for id, m := range r.dirty {
		at := m.first
		if !m.waitFrom.IsZero() {
			at = m.waitFrom
		}
		reads = append(reads, read{id: id, marked: at})
	}
	clear(r.dirty)
	r.mu.Unlock()
	// In mark order, so chats that start to wait in one pass keep their arrival order.
	slices.SortFunc(reads, func(a, b read) int {
		if c := a.marked.Compare(b.marked); c != 0 {
			return c
		}
		return cmpString(a.id, b.id)
	})
	views := reads[:0]
	var retry []string
	for _, rd := range reads {
		v, err := r.core.Chat(rd.id)
		switch {
		case err == nil:
			rd.v, rd.ok = v, true
			views = append(views, rd)
		case errors.Is(err, chatcore.ErrChatNotFound):
			views = append(views, rd)
		case errors.Is(err, chatcore.ErrClosed):
			// The core stopped before the router: nothing more to route.
		default:
			// Store trouble: look again in a second rather than guess (and not at once,
			// which would spin while the store is away).
			r.log.Warn("read chat", "chat", rd.id, "err", err)
			retry = append(retry, rd.id)
		}
	}
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range retry {
		r.dl.Set("r:"+id, now.Add(readRetry))
	}
	for _, rd := range views {
		at := rd.marked // when the change was seen: its time, not this pass's
		if at.After(now) {
			at = now
		}
		r.applyView(rd.id, rd.v, rd.ok, at)
	}
	due := r.dl.PopDue(now, 0)
	for _, key := range due {
		r.due(key, now)
	}
	r.match(now)
	next, _ = r.dl.Next()
	return next, len(views) > 0 || len(due) > 0
}

// flush runs the outbox, one deliverer at a time, outside the lock.
func (r *Router) flush() {
	r.mu.Lock()
	if r.delivering {
		r.mu.Unlock()
		return
	}
	r.delivering = true
	for len(r.outbox) > 0 {
		batch := r.outbox
		r.outbox = nil
		r.mu.Unlock()
		for _, f := range batch {
			f()
		}
		r.mu.Lock()
	}
	r.delivering = false
	r.mu.Unlock()
}

func (r *Router) sendOffer(o Offer) {
	r.outbox = append(r.outbox, func() {
		if s := r.sink.Load().s; s != nil {
			s.Offer(o)
		}
	})
}

func (r *Router) sendWithdrawn(o Offer, why Withdrawal) {
	r.outbox = append(r.outbox, func() {
		if s := r.sink.Load().s; s != nil {
			s.OfferWithdrawn(o, why)
		}
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
