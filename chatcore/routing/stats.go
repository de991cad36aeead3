package routing

import (
	"maps"
	"slices"
	"time"
)

// Histogram is a fixed-bucket histogram of durations in seconds (Prometheus-shaped:
// Counts[i] counts observations <= Bounds[i], not cumulative; the last count is +Inf).
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

func newHistogram(bounds ...float64) Histogram {
	return Histogram{Bounds: bounds, Counts: make([]uint64, len(bounds)+1)}
}

func (h *Histogram) observe(d time.Duration) {
	s := max(d.Seconds(), 0)
	i, _ := slices.BinarySearch(h.Bounds, s)
	h.Counts[i]++
	h.Count++
	h.Sum += s
}

func (h Histogram) clone() Histogram {
	h.Bounds = slices.Clone(h.Bounds)
	h.Counts = slices.Clone(h.Counts)
	return h
}

type counters struct {
	offers, accepted, rejected, timedOut uint64
	withdrawn                            map[Withdrawal]uint64
	toAccept, handle, wait               Histogram
}

// QueueStats is one queue in a Stats snapshot.
type QueueStats struct {
	Waiting, Offered int
	OldestWait       time.Duration // of the oldest waiting (not offered) chat
	Agents           int           // logged-in agents serving the queue
	Ready            int           // of which Ready
}

// Stats is a snapshot for metrics and supervisors.
type Stats struct {
	Queues map[string]QueueStats
	// Agents counts the logged-in agents by state (ready, not-ready).
	Agents map[State]int
	// Offers made; Accepted, Rejected, TimedOut their outcomes; Withdrawn the offers taken
	// back because the agent left Ready or the chat stopped waiting (by reason).
	Offers, Accepted, Rejected, TimedOut uint64
	Withdrawn                            map[Withdrawal]uint64
	// TimeToAccept: offer → accept. HandleTime: an agent's join → its leave. WaitTime: start
	// of the wait → accept.
	TimeToAccept, HandleTime, WaitTime Histogram
}

func newCounters() counters {
	return counters{
		withdrawn: map[Withdrawal]uint64{},
		toAccept:  newHistogram(1, 2, 5, 10, 20, 30, 60, 120),
		handle:    newHistogram(30, 60, 120, 300, 600, 1800, 3600, 7200, 28800, 86400),
		wait:      newHistogram(1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 86400),
	}
}

// Stats returns a snapshot.
func (r *Router) Stats() Stats {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{
		Queues: make(map[string]QueueStats, len(r.queues)), Agents: map[State]int{StateReady: 0, StateNotReady: 0},
		Offers: r.st.offers, Accepted: r.st.accepted, Rejected: r.st.rejected, TimedOut: r.st.timedOut,
		Withdrawn:    maps.Clone(r.st.withdrawn),
		TimeToAccept: r.st.toAccept.clone(), HandleTime: r.st.handle.clone(), WaitTime: r.st.wait.clone(),
	}
	for name, q := range r.queues {
		qs := QueueStats{Waiting: len(q.waiting), Offered: q.offered, Agents: len(q.agents)}
		for _, e := range q.waiting {
			qs.OldestWait = max(qs.OldestWait, now.Sub(e.since))
		}
		for _, ag := range q.agents {
			if ag.state == StateReady {
				qs.Ready++
			}
		}
		s.Queues[name] = qs
	}
	for _, ag := range r.agents {
		s.Agents[ag.state]++
	}
	return s
}
