// Package deadline is chatcore's timer queue: one deadline per key (a chat), kept in a
// binary min-heap with an index so a key's deadline can be moved or removed in O(log n).
// It has no goroutines and no clock: the owner asks what is due at a time it chooses,
// which keeps timer tests deterministic.
package deadline

import (
	"container/heap"
	"time"
)

type item struct {
	key string
	at  time.Time
	pos int
}

type items []*item

func (h items) Len() int           { return len(h) }
func (h items) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h items) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos, h[j].pos = i, j
}
func (h *items) Push(x any) {
	it := x.(*item)
	it.pos = len(*h)
	*h = append(*h, it)
}
func (h *items) Pop() any {
	old := *h
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	it.pos = -1
	return it
}

// Queue holds at most one deadline per key. It is not safe for concurrent use.
type Queue struct {
	h     items
	byKey map[string]*item
}

// New returns an empty queue.
func New() *Queue { return &Queue{byKey: map[string]*item{}} }

// Set arms or moves key's deadline to at.
func (q *Queue) Set(key string, at time.Time) {
	if it, ok := q.byKey[key]; ok {
		it.at = at
		heap.Fix(&q.h, it.pos)
		return
	}
	it := &item{key: key, at: at}
	heap.Push(&q.h, it)
	q.byKey[key] = it
}

// Remove disarms key (no-op when it has no deadline).
func (q *Queue) Remove(key string) {
	it, ok := q.byKey[key]
	if !ok {
		return
	}
	heap.Remove(&q.h, it.pos)
	delete(q.byKey, key)
}

// Get returns key's deadline.
func (q *Queue) Get(key string) (time.Time, bool) {
	it, ok := q.byKey[key]
	if !ok {
		return time.Time{}, false
	}
	return it.at, true
}

// Next returns the earliest deadline.
func (q *Queue) Next() (time.Time, bool) {
	if len(q.h) == 0 {
		return time.Time{}, false
	}
	return q.h[0].at, true
}

// PopDue removes and returns, earliest first, the keys whose deadline is at or before now.
func (q *Queue) PopDue(now time.Time, max int) []string {
	var out []string
	for len(q.h) > 0 && !q.h[0].at.After(now) && (max <= 0 || len(out) < max) {
		it := heap.Pop(&q.h).(*item)
		delete(q.byKey, it.key)
		out = append(out, it.key)
	}
	return out
}

// Len is the number of armed keys.
func (q *Queue) Len() int { return len(q.h) }
