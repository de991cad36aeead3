package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
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
		next := r.step()
		r.flush()
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
// deadline (zero for none).
func (r *Router) step() time.Time {
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
	for _, key := range r.dl.PopDue(now, 0) {
		r.due(key, now)
	}
	r.match(now)
	next, _ := r.dl.Next()
	return next
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

// Login registers an agent (or updates its profile: queues, capacity, nickname, keeping
// its state). A new agent starts NotReady.
func (r *Router) Login(a Agent) error {
	if a.ID == "" || a.Capacity < 0 {
		return fmt.Errorf("agent %.32q capacity %d: %w", a.ID, a.Capacity, ErrInvalid)
	}
	a.Queues = slices.Clone(a.Queues)
	now := r.clock.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	ag := r.agents[a.ID]
	if ag == nil {
		ag = &agent{state: StateNotReady, since: now, offers: map[string]*entry{}}
		r.agents[a.ID] = ag
	} else {
		r.unindex(ag)
	}
	ag.Agent = a
	for _, q := range a.Queues {
		r.queue(q).agents[a.ID] = ag
	}
	r.todoAgents[ag] = struct{}{}
	r.mu.Unlock()
	r.poke()
	return nil
}

// SetState makes a logged-in agent Ready, NotReady (with a reason) or logs it out
// (StateLoggedOut, as Logout). Leaving Ready withdraws the agent's offers; the chats it is
// in stay its chats.
func (r *Router) SetState(agentID string, s State, reason string) error {
	if s != StateReady && s != StateNotReady && s != StateLoggedOut {
		return fmt.Errorf("state %.32q: %w", s, ErrInvalid)
	}
	now := r.clock.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	ag := r.agents[agentID]
	if ag == nil {
		r.mu.Unlock()
		return fmt.Errorf("agent %.32q: %w", agentID, ErrUnknownAgent)
	}
	r.setState(ag, s, reason, now)
	r.mu.Unlock()
	r.flush()
	r.poke()
	return nil
}

// Logout logs an agent out (SetState StateLoggedOut).
func (r *Router) Logout(agentID string) error { return r.SetState(agentID, StateLoggedOut, "") }

// setState changes an agent's state. r.mu held.
func (r *Router) setState(ag *agent, s State, reason string, now time.Time) {
	if s != StateNotReady {
		reason = ""
	}
	if ag.state != s || ag.reason != reason {
		ag.state, ag.reason, ag.since = s, reason, now
	}
	if s != StateReady {
		for _, e := range sortedEntries(ag.offers) {
			if !e.accepting { // an accepted offer's Join is on its way: its outcome decides
				r.withdraw(e, WithdrawAgent, now)
			}
		}
	} else {
		r.todoAgents[ag] = struct{}{}
	}
	if s == StateLoggedOut {
		r.unindex(ag)
		delete(r.agents, ag.ID)
		delete(r.todoAgents, ag)
	}
}

// Accept accepts an offer: the router joins the agent to the chat (chatcore.Core.Join as
// an Agent with the agent's id and nickname) and returns the Join's result. ErrNoOffer when
// the chat is not offered to the agent (taken back, expired, accepted already); the Join's
// errors otherwise (the chat then goes to the next agent).
func (r *Router) Accept(ctx context.Context, agentID, chatID string) (chatcore.Participant, chatcore.Result, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return chatcore.Participant{}, chatcore.Result{}, ErrClosed
	}
	e := r.entries[chatID]
	ag := r.agents[agentID]
	if e == nil || ag == nil || e.offeredTo != agentID || e.accepting {
		r.mu.Unlock()
		return chatcore.Participant{}, chatcore.Result{}, fmt.Errorf("chat %s for agent %.32q: %w", chatID, agentID, ErrNoOffer)
	}
	e.accepting = true
	nick := ag.Nickname
	r.mu.Unlock()

	p, res, err := r.core.Join(ctx, chatID, chatcore.JoinRequest{Type: chatcore.Agent, Nickname: nick, UserID: agentID})
	now := r.clock.Now()
	r.mu.Lock()
	if r.entries[chatID] == e && e.offeredTo == agentID {
		if err != nil {
			e.accepting = false
			r.withdraw(e, WithdrawChat, now)
		} else {
			r.assigned(e, now)
			if r.handling[chatID] == nil {
				r.handling[chatID] = map[string]time.Time{}
			}
			if _, in := r.handling[chatID][agentID]; !in {
				r.handling[chatID][agentID] = now
				r.addChat(agentID, chatID)
			}
		}
	}
	r.mu.Unlock()
	r.flush()
	r.mark(chatID) // look at the chat's own state (Join may have failed because it ended)
	if err != nil {
		return chatcore.Participant{}, chatcore.Result{}, fmt.Errorf("routing: join %s: %w", chatID, err)
	}
	return p, res, nil
}

// Reject declines an offer: the chat goes to the next agent, and this agent is not offered
// it again for Config.RejectCooldown.
func (r *Router) Reject(agentID, chatID string) error {
	now := r.clock.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	e := r.entries[chatID]
	if e == nil || e.offeredTo != agentID || e.accepting {
		r.mu.Unlock()
		return fmt.Errorf("chat %s for agent %.32q: %w", chatID, agentID, ErrNoOffer)
	}
	r.st.rejected++
	r.exclude(e, agentID, now)
	r.withdraw(e, WithdrawRejected, now)
	r.mu.Unlock()
	r.flush()
	r.poke()
	return nil
}

// Agent returns a logged-in agent's status.
func (r *Router) Agent(agentID string) (AgentStatus, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ag := r.agents[agentID]
	if ag == nil {
		return AgentStatus{}, false
	}
	return r.status(ag), true
}

// Agents lists the logged-in agents by id.
func (r *Router) Agents() []AgentStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]AgentStatus, 0, len(r.agents))
	for _, ag := range r.agents {
		out = append(out, r.status(ag))
	}
	slices.SortFunc(out, func(a, b AgentStatus) int { return cmpString(a.ID, b.ID) })
	return out
}

func (r *Router) status(ag *agent) AgentStatus {
	s := AgentStatus{Agent: ag.Agent, State: ag.state, Reason: ag.reason, Since: ag.since}
	s.Queues = slices.Clone(ag.Queues)
	s.Chats = slices.Sorted(maps.Keys(r.chatsOf[ag.ID]))
	s.Offers = slices.Sorted(maps.Keys(ag.offers))
	return s
}

// Offers returns the offers pending for an agent (for a desktop that reconnects).
func (r *Router) Offers(agentID string) []Offer {
	r.mu.Lock()
	defer r.mu.Unlock()
	ag := r.agents[agentID]
	if ag == nil {
		return nil
	}
	var out []Offer
	for _, e := range sortedEntries(ag.offers) {
		out = append(out, e.offer())
	}
	return out
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
