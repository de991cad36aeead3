package routing

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// entry is a chat that waits (in its queue's list) or is being offered (offeredTo set).
type entry struct {
	chat, service, queue string
	priority             int
	since                time.Time
	seq                  uint64
	view                 chatcore.ChatView
	prefer               string // last agent, preferred until preferUntil
	preferUntil          time.Time
	noticed              bool

	offeredTo          string
	offeredAt, expires time.Time
	lastAgent          bool // offered as the last agent
	accepting          bool // Accept is joining the agent
	excluded           map[string]time.Time
}

// before orders entries: higher priority first, then the oldest, then arrival.
func (e *entry) cmp(o *entry) int {
	if c := cmp.Compare(o.priority, e.priority); c != 0 {
		return c
	}
	if c := e.since.Compare(o.since); c != 0 {
		return c
	}
	return cmp.Compare(e.seq, o.seq)
}

func (e *entry) offer() Offer {
	return Offer{ChatID: e.chat, AgentID: e.offeredTo, Service: e.service, Queue: e.queue, Chat: e.view, Offered: e.offeredAt, Expires: e.expires, LastAgent: e.lastAgent}
}

func (e *entry) excludes(agentID string, now time.Time) bool {
	until, ok := e.excluded[agentID]
	return ok && now.Before(until)
}

func sortedEntries(m map[string]*entry) []*entry {
	out := slices.Collect(maps.Values(m))
	slices.SortFunc(out, (*entry).cmp)
	return out
}

// queue holds its waiting entries in order and the agents serving it.
type queue struct {
	name    string
	waiting []*entry
	offered int
	agents  map[string]*agent
	// accepts are the times of the last accepts (a ring), for the estimated wait.
	accepts [16]time.Time
	nAcc    int
}

func (q *queue) insert(e *entry) {
	i, _ := slices.BinarySearchFunc(q.waiting, e, (*entry).cmp)
	q.waiting = slices.Insert(q.waiting, i, e)
}

func (q *queue) index(e *entry) int {
	i, ok := slices.BinarySearchFunc(q.waiting, e, (*entry).cmp)
	if !ok || q.waiting[i] != e {
		return -1
	}
	return i
}

func (q *queue) take(e *entry) {
	if i := q.index(e); i >= 0 {
		q.waiting = slices.Delete(q.waiting, i, i+1)
	}
}

func (q *queue) accepted(now time.Time) {
	q.accepts[q.nAcc%len(q.accepts)] = now
	q.nAcc++
}

// interval is the mean time between the queue's recent accepts.
func (q *queue) interval() (time.Duration, bool) {
	n := min(q.nAcc, len(q.accepts))
	if n < 2 {
		return 0, false
	}
	newest := q.accepts[(q.nAcc-1)%len(q.accepts)]
	oldest := q.accepts[(q.nAcc-n)%len(q.accepts)]
	return newest.Sub(oldest) / time.Duration(n-1), true
}

// agent is a logged-in agent.
type agent struct {
	Agent
	state     State
	reason    string
	since     time.Time
	offers    map[string]*entry
	lastOffer time.Time
}

func (r *Router) queue(name string) *queue {
	q := r.queues[name]
	if q == nil {
		q = &queue{name: name, agents: map[string]*agent{}}
		r.queues[name] = q
	}
	return q
}

func (r *Router) unindex(ag *agent) {
	for _, q := range ag.Queues {
		if qq := r.queues[q]; qq != nil {
			delete(qq.agents, ag.ID)
			r.dropIfIdle(q)
		}
	}
}

// dropIfIdle forgets a queue nobody waits in and nobody serves (any service name is a
// queue, so they must not pile up). r.mu held.
func (r *Router) dropIfIdle(name string) {
	if q := r.queues[name]; q != nil && len(q.waiting) == 0 && q.offered == 0 && len(q.agents) == 0 {
		delete(r.queues, name)
	}
}

func (r *Router) free(ag *agent) int { return ag.Capacity - r.load(ag) }

// load is what counts against an agent's capacity: the chats it is in and its offers.
func (r *Router) load(ag *agent) int { return len(r.chatsOf[ag.ID]) + len(ag.offers) }

func (r *Router) addChat(agentID, chatID string) {
	m := r.chatsOf[agentID]
	if m == nil {
		m = map[string]struct{}{}
		r.chatsOf[agentID] = m
	}
	m[chatID] = struct{}{}
}

func (r *Router) removeChat(agentID, chatID string) {
	if m := r.chatsOf[agentID]; m != nil {
		delete(m, chatID)
		if len(m) == 0 {
			delete(r.chatsOf, agentID)
		}
	}
}

// wants says whether a chat asks for an agent (with none in it).
func wants(v chatcore.ChatView) bool {
	if v.Ended {
		return false
	}
	for _, p := range v.Participants {
		if p.Present && (p.Type == chatcore.Agent || p.Type == chatcore.External) {
			return false // an agent, or a bot / workflow party, handles the chat
		}
	}
	if v.Async {
		return v.AsyncStatus > 0
	}
	return true
}

// applyView brings the router in line with a chat's state (ok false: the chat is gone).
// r.mu held.
func (r *Router) applyView(id string, v chatcore.ChatView, ok bool, now time.Time) {
	present := map[string]bool{}
	if ok && !v.Ended {
		for _, p := range v.Participants {
			if p.Present && p.Type == chatcore.Agent {
				present[p.UserID] = true
			}
		}
	}
	in := r.handling[id]
	var left []string
	for ag, at := range in {
		if present[ag] {
			continue
		}
		left = append(left, ag)
		delete(in, ag)
		r.removeChat(ag, id)
		r.st.handle.observe(now.Sub(at))
		r.rememberLast(id, v, ag, now)
		if a := r.agents[ag]; a != nil {
			r.todoAgents[a] = struct{}{}
		}
	}
	e := r.entries[id]
	for ag := range present {
		if _, was := in[ag]; was {
			continue
		}
		if in == nil {
			in = map[string]time.Time{}
			r.handling[id] = in
		}
		in[ag] = now
		r.addChat(ag, id)
		if e != nil && e.offeredTo == ag {
			r.assigned(e, now) // the accepted offer's Join, seen before Accept returned
			e = nil
		}
	}
	if len(in) == 0 {
		delete(r.handling, id)
	}
	waiting := ok && wants(v)
	switch {
	case waiting && e == nil:
		r.enqueue(v, left, now)
	case waiting:
		e.view = v
	case e != nil:
		r.dequeue(e, now)
	}
}

// enqueue makes a chat wait; left are the agents who just left it. r.mu held.
func (r *Router) enqueue(v chatcore.ChatView, left []string, now time.Time) {
	svc := r.cfg.service(v.Service)
	r.seq++
	e := &entry{chat: v.ID, service: v.Service, queue: svc.Queue, priority: svc.Priority, since: now, seq: r.seq, view: v}
	if rec, ok := r.waitRecs[keySafe(v.ID)]; ok {
		delete(r.waitRecs, keySafe(v.ID))
		e.since, e.noticed = time.UnixMilli(rec.Since), rec.Noticed
	} else {
		if r.starting && !v.Created.IsZero() {
			e.since = v.Created // waiting before the restart, record lost: its age is the best guess
		}
		r.persist.put(waitKey(v.ID), waitRec{Since: e.since.UnixMilli()})
	}
	if v.AsyncStatus == AsyncReleased {
		// Released to the queue: the agent handed it on, so no last-agent preference, and
		// the agents who released it are not offered it again for the cooldown.
		for _, ag := range left {
			r.exclude(e, ag, now)
		}
	} else if l, ok := r.lastFor(v, now); ok {
		e.prefer, e.preferUntil = l.Agent, time.UnixMilli(l.At).Add(r.cfg.LastAgentWindow)
		if r.preferring[l.Agent] == nil {
			r.preferring[l.Agent] = map[string]*entry{}
		}
		r.preferring[l.Agent][e.chat] = e
	}
	r.entries[e.chat] = e
	r.queue(e.queue).insert(e)
	r.todoChats[e] = struct{}{}
}

// dequeue removes a chat that no longer waits. r.mu held.
func (r *Router) dequeue(e *entry, now time.Time) {
	if e.offeredTo != "" {
		r.withdraw(e, WithdrawChat, now)
	}
	r.queue(e.queue).take(e)
	r.forget(e)
}

// forget drops an entry that left the queue (dequeued or accepted). r.mu held.
func (r *Router) forget(e *entry) {
	r.dropIfIdle(e.queue)
	delete(r.entries, e.chat)
	delete(r.todoChats, e)
	if m := r.preferring[e.prefer]; m != nil {
		delete(m, e.chat)
		if len(m) == 0 {
			delete(r.preferring, e.prefer)
		}
	}
	r.dl.Remove("o:" + e.chat)
	r.dl.Remove("x:" + e.chat)
	r.persist.del(waitKey(e.chat))
}

// offer offers e to ag. r.mu held.
func (r *Router) offer(e *entry, ag *agent, now time.Time) {
	q := r.queue(e.queue)
	q.take(e)
	q.offered++
	e.offeredTo, e.offeredAt, e.expires = ag.ID, now, now.Add(r.cfg.OfferTimeout)
	e.lastAgent = e.prefer == ag.ID && now.Before(e.preferUntil)
	ag.offers[e.chat] = e
	ag.lastOffer = now
	r.dl.Set("o:"+e.chat, e.expires)
	r.st.offers++
	r.sendOffer(e.offer())
}

// withdraw takes an offer back; the chat waits again. r.mu held.
func (r *Router) withdraw(e *entry, why Withdrawal, now time.Time) {
	o := e.offer()
	if ag := r.agents[e.offeredTo]; ag != nil {
		delete(ag.offers, e.chat)
		if ag.state == StateReady {
			r.todoAgents[ag] = struct{}{}
		}
	}
	q := r.queue(e.queue)
	q.offered--
	e.offeredTo, e.accepting, e.lastAgent = "", false, false
	r.dl.Remove("o:" + e.chat)
	q.insert(e)
	r.todoChats[e] = struct{}{}
	if why != WithdrawRejected {
		r.st.withdrawn[why]++
	}
	r.sendWithdrawn(o, why)
}

// assigned completes an accepted offer. r.mu held.
func (r *Router) assigned(e *entry, now time.Time) {
	if ag := r.agents[e.offeredTo]; ag != nil {
		delete(ag.offers, e.chat)
	}
	q := r.queue(e.queue)
	q.offered--
	q.accepted(now)
	r.st.accepted++
	r.st.toAccept.observe(now.Sub(e.offeredAt))
	r.st.wait.observe(now.Sub(e.since))
	e.offeredTo = ""
	r.forget(e)
}

// exclude keeps agentID from being offered e again for the cooldown. r.mu held.
func (r *Router) exclude(e *entry, agentID string, now time.Time) {
	if e.excluded == nil {
		e.excluded = map[string]time.Time{}
	}
	e.excluded[agentID] = now.Add(r.cfg.RejectCooldown)
	r.armCooldown(e, now)
}

func (r *Router) armCooldown(e *entry, now time.Time) {
	var next time.Time
	for ag, until := range e.excluded {
		if !now.Before(until) {
			delete(e.excluded, ag)
			continue
		}
		if next.IsZero() || until.Before(next) {
			next = until
		}
	}
	if next.IsZero() {
		r.dl.Remove("x:" + e.chat)
		return
	}
	r.dl.Set("x:"+e.chat, next)
}

// due handles a deadline that fell due. r.mu held.
func (r *Router) due(key string, now time.Time) {
	kind, chat, _ := strings.Cut(key, ":")
	if kind == "s" {
		r.sweepLast(now)
		return
	}
	if kind == "r" {
		if _, ok := r.dirty[chat]; !ok {
			r.dirty[chat] = marks{first: now}
		}
		r.poke() // a channel send that never blocks: the next pass reads it
		return
	}
	e := r.entries[chat]
	if e == nil {
		return
	}
	switch kind {
	case "o":
		if e.offeredTo == "" || e.accepting {
			return // Accept is joining; its outcome decides
		}
		agentID := e.offeredTo
		r.st.timedOut++
		r.exclude(e, agentID, now)
		r.withdraw(e, WithdrawTimeout, now)
		if ag := r.agents[agentID]; ag != nil && !r.cfg.KeepReadyOnTimeout && ag.state == StateReady {
			r.setState(ag, StateNotReady, "offer-timeout", now)
		}
	case "x":
		r.armCooldown(e, now)
		if e.offeredTo == "" {
			r.todoChats[e] = struct{}{}
		}
	}
}

// match offers what can be offered: the agents that may take more pick the best chats of
// their queues first (FIFO across a pass), then the chats that changed look for an agent.
// r.mu held.
func (r *Router) match(now time.Time) {
	agents := slices.Collect(maps.Keys(r.todoAgents))
	clear(r.todoAgents)
	slices.SortFunc(agents, func(a, b *agent) int {
		if c := a.lastOffer.Compare(b.lastOffer); c != 0 {
			return c
		}
		return cmpString(a.ID, b.ID)
	})
	for _, ag := range agents {
		r.matchAgent(ag, now)
	}
	chats := slices.Collect(maps.Keys(r.todoChats))
	clear(r.todoChats)
	slices.SortFunc(chats, (*entry).cmp)
	noneFree := map[string]bool{}
	for _, e := range chats {
		if r.entries[e.chat] == e && e.offeredTo == "" {
			r.matchChat(e, now, noneFree)
		}
	}
}

// matchAgent offers ag the best chats it may take. r.mu held.
func (r *Router) matchAgent(ag *agent, now time.Time) {
	if r.agents[ag.ID] != ag {
		return
	}
	for ag.state == StateReady && r.free(ag) > 0 {
		var best *entry
		for _, e := range r.preferring[ag.ID] {
			if e.offeredTo == "" && now.Before(e.preferUntil) && !e.excludes(ag.ID, now) && (best == nil || e.cmp(best) < 0) {
				best = e
			}
		}
		if best == nil {
			for _, name := range ag.Queues {
				q := r.queues[name]
				if q == nil {
					continue
				}
				for _, e := range q.waiting {
					if e.excludes(ag.ID, now) {
						continue
					}
					if p := r.preferredFree(e, now); p != nil && p != ag {
						continue // its last agent can take it
					}
					if best == nil || e.cmp(best) < 0 {
						best = e
					}
					break
				}
			}
		}
		if best == nil {
			return
		}
		r.offer(best, ag, now)
	}
}

// matchChat offers e to its last agent or the best ready agent of its queue; when nobody
// can take it, the customer gets the notice once. noneFree remembers, for this pass, the
// queues without a ready agent with free capacity. r.mu held.
func (r *Router) matchChat(e *entry, now time.Time, noneFree map[string]bool) {
	if ag := r.preferredFree(e, now); ag != nil {
		r.offer(e, ag, now)
		return
	}
	if !noneFree[e.queue] {
		var best *agent
		anyFree := false
		for _, ag := range r.queue(e.queue).agents {
			if ag.state != StateReady || r.free(ag) <= 0 {
				continue
			}
			anyFree = true
			if e.excludes(ag.ID, now) {
				continue
			}
			if best == nil || r.betterAgent(ag, best) {
				best = ag
			}
		}
		if best != nil {
			r.offer(e, best, now)
			return
		}
		if !anyFree {
			noneFree[e.queue] = true
		}
	}
	if !e.noticed {
		e.noticed = true
		r.persist.put(waitKey(e.chat), waitRec{Since: e.since.UnixMilli(), Noticed: true})
		if text := r.cfg.service(e.service).NoAgentNotice; text != "" {
			p := r.position(e, now)
			r.notices.add(e.chat, fillNotice(text, p))
		}
	}
}

// preferredFree returns e's last agent when its window lasts and it can take e now.
func (r *Router) preferredFree(e *entry, now time.Time) *agent {
	if e.prefer == "" || !now.Before(e.preferUntil) {
		return nil
	}
	ag := r.agents[e.prefer]
	if ag == nil || ag.state != StateReady || r.free(ag) <= 0 || e.excludes(ag.ID, now) {
		return nil
	}
	return ag
}

// betterAgent: lower load first, then the longest since its last offer, then the id.
func (r *Router) betterAgent(a, b *agent) bool {
	la, lb := r.load(a), r.load(b)
	if la != lb {
		return la < lb
	}
	if c := a.lastOffer.Compare(b.lastOffer); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

func fillNotice(text string, p Position) string {
	wait := "unknown"
	if p.EstimateKnown {
		wait = strconv.Itoa(int(math.Ceil(p.EstimatedWait.Minutes()))) + " min"
	}
	return strings.NewReplacer("{position}", strconv.Itoa(p.Position), "{wait}", wait).Replace(text)
}

// Position returns a waiting chat's position in its queue and the estimated wait.
func (r *Router) Position(chatID string) (Position, error) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[chatID]
	if e == nil {
		return Position{}, fmt.Errorf("chat %s: %w", chatID, ErrNotQueued)
	}
	return r.position(e, now), nil
}

func (r *Router) position(e *entry, _ time.Time) Position {
	q := r.queue(e.queue)
	p := Position{Queue: q.name, Waiting: len(q.waiting), Since: e.since, Offered: e.offeredTo != ""}
	if !p.Offered {
		p.Position = q.index(e) + 1
	}
	if iv, ok := q.interval(); ok && len(q.agents) > 0 {
		p.EstimatedWait, p.EstimateKnown = iv*time.Duration(max(p.Position, 1)), true
		if p.Offered {
			p.EstimatedWait = 0
		}
	}
	return p
}

// Waiting lists a queue's chats: waiting ones in offer order, then those being offered.
func (r *Router) Waiting(queueName string) []WaitingChat {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queues[queueName]
	if q == nil {
		return nil
	}
	row := func(e *entry, pos int) WaitingChat {
		w := WaitingChat{ChatID: e.chat, Service: e.service, Priority: e.priority, Since: e.since, Position: pos, OfferedTo: e.offeredTo}
		if e.prefer != "" && now.Before(e.preferUntil) {
			w.LastAgent = e.prefer
		}
		return w
	}
	out := make([]WaitingChat, 0, len(q.waiting)+q.offered)
	for i, e := range q.waiting {
		out = append(out, row(e, i+1))
	}
	var offered []*entry
	for _, e := range r.entries {
		if e.queue == queueName && e.offeredTo != "" {
			offered = append(offered, e)
		}
	}
	slices.SortFunc(offered, (*entry).cmp)
	for _, e := range offered {
		out = append(out, row(e, 0))
	}
	return out
}
