package routing

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
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

// cmp orders entries: higher priority first, then the oldest, then arrival.
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

func (r *Router) queue(name string) *queue {
	q := r.queues[name]
	if q == nil {
		q = &queue{name: name, agents: map[string]*agent{}}
		r.queues[name] = q
	}
	return q
}

// dropIfIdle forgets a queue nobody waits in and nobody serves (any service name is a
// queue, so they must not pile up). r.mu held.
func (r *Router) dropIfIdle(name string) {
	if q := r.queues[name]; q != nil && len(q.waiting) == 0 && q.offered == 0 && len(q.agents) == 0 {
		delete(r.queues, name)
	}
}

// Position returns a waiting chat's position in its queue and the estimated wait.
func (r *Router) Position(chatID string) (Position, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[chatID]
	if e == nil {
		return Position{}, fmt.Errorf("chat %s: %w", chatID, ErrNotQueued)
	}
	return r.position(e), nil
}

func (r *Router) position(e *entry) Position {
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
