package feed

import (
	"sync/atomic"
	"time"
)

// LagBuckets are the upper bounds (seconds) of the delivery lag histogram: from the
// record's stored time to the endpoint's 2xx.
var LagBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// hookStats are one endpoint's delivery counters (atomics: the dispatcher counts, a scrape
// reads, no lock between them).
type hookStats struct {
	delivered, rejected, failed atomic.Uint64 // attempts by outcome
	retries                     atomic.Uint64 // attempts after a record's first
	deadLettered                atomic.Uint64
	replayed, replayFailed      atomic.Uint64
	lagCounts                   []atomic.Uint64 // per LagBuckets entry, then +Inf
	lagSumMicros                atomic.Uint64
}

func newHookStats() *hookStats {
	return &hookStats{lagCounts: make([]atomic.Uint64, len(LagBuckets)+1)}
}

func (s *hookStats) observeLag(d time.Duration) {
	sec := max(0, d.Seconds())
	i := 0
	for i < len(LagBuckets) && sec > LagBuckets[i] {
		i++
	}
	s.lagCounts[i].Add(1)
	s.lagSumMicros.Add(uint64(max(0, d.Microseconds())))
}

// WebhookStats is a snapshot of one endpoint's counters.
type WebhookStats struct {
	// Attempts by outcome: Delivered (2xx), Rejected (another status), Failed (no answer:
	// connection error, timeout).
	Delivered, Rejected, Failed uint64
	// Retries counts the attempts after a record's first one.
	Retries uint64
	// DeadLettered counts the records moved to the dead letters.
	DeadLettered uint64
	// Replayed and ReplayFailed count dead letters delivered, or not, by a replay.
	Replayed, ReplayFailed uint64
	// LagCounts are the non-cumulative counts per LagBuckets bound, the last one +Inf;
	// LagSum is their sum in seconds.
	LagCounts []uint64
	LagSum    float64
}

func (s *hookStats) snapshot() WebhookStats {
	out := WebhookStats{
		Delivered: s.delivered.Load(), Rejected: s.rejected.Load(), Failed: s.failed.Load(),
		Retries: s.retries.Load(), DeadLettered: s.deadLettered.Load(),
		Replayed: s.replayed.Load(), ReplayFailed: s.replayFailed.Load(),
		LagCounts: make([]uint64, len(s.lagCounts)),
		LagSum:    float64(s.lagSumMicros.Load()) / 1e6,
	}
	for i := range s.lagCounts {
		out.LagCounts[i] = s.lagCounts[i].Load()
	}
	return out
}
