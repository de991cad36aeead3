package routing

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

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
			p := r.position(e)
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
