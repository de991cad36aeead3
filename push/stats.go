package push

import (
	"maps"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LatencyBuckets are the upper bounds (seconds) of the enqueue → provider-answer histogram.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// KindStats are the counters of one provider kind.
type KindStats struct {
	Enqueued uint64 `json:"enqueued"`
	Sent     uint64 `json:"sent"`
	Resent   uint64 `json:"resent"`
	Retried  uint64 `json:"retried"`
	Dead     uint64 `json:"dead"`
	Acked    uint64 `json:"acked"`
	// Failed counts failed attempts by provider reason (e.g. "Unregistered", "429").
	Failed map[string]uint64 `json:"failed"`
	// Dropped counts notifications lost to bounds ("queue_full", "resend_overflow",
	// "result_overflow", "unacknowledged").
	Dropped map[string]uint64 `json:"dropped"`
	Queued  int               `json:"queued"`
	// Latency histogram of successful sends: cumulative counts per LatencyBuckets bound.
	LatencyCount   uint64   `json:"latencyCount"`
	LatencySum     float64  `json:"latencySumSeconds"`
	LatencyBuckets []uint64 `json:"latencyBuckets"`
}

// StatsSnapshot is a copy of all counters, by kind.
type StatsSnapshot map[Kind]KindStats

// Stats holds the live counters of a Dispatcher.
type Stats struct {
	mu sync.Mutex
	k  map[Kind]*KindStats
}

func newStats() *Stats {
	s := &Stats{k: make(map[Kind]*KindStats, len(Kinds))}
	for _, k := range Kinds {
		s.k[k] = &KindStats{Failed: map[string]uint64{}, Dropped: map[string]uint64{}, LatencyBuckets: make([]uint64, len(LatencyBuckets))}
	}
	return s
}

func (s *Stats) with(k Kind, f func(*KindStats)) {
	s.mu.Lock()
	if ks, ok := s.k[k]; ok {
		f(ks)
	}
	s.mu.Unlock()
}

func (s *Stats) enqueued(k Kind) { s.with(k, func(ks *KindStats) { ks.Enqueued++ }) }
func (s *Stats) retried(k Kind)  { s.with(k, func(ks *KindStats) { ks.Retried++ }) }
func (s *Stats) dead(k Kind)     { s.with(k, func(ks *KindStats) { ks.Dead++ }) }
func (s *Stats) acked(k Kind)    { s.with(k, func(ks *KindStats) { ks.Acked++ }) }
func (s *Stats) failed(k Kind, reason string) {
	s.with(k, func(ks *KindStats) { ks.Failed[reason]++ })
}
func (s *Stats) dropped(k Kind, reason string) {
	s.with(k, func(ks *KindStats) { ks.Dropped[reason]++ })
}

func (s *Stats) sent(k Kind, latency time.Duration, resend bool) {
	sec := latency.Seconds()
	s.with(k, func(ks *KindStats) {
		if resend {
			ks.Resent++
		} else {
			ks.Sent++
		}
		ks.LatencyCount++
		ks.LatencySum += sec
		for i, b := range LatencyBuckets {
			if sec <= b {
				ks.LatencyBuckets[i]++
			}
		}
	})
}

func (s *Stats) snapshot(queued map[Kind]int) StatsSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(StatsSnapshot, len(s.k))
	for k, ks := range s.k {
		c := *ks
		c.Failed = maps.Clone(ks.Failed)
		c.Dropped = maps.Clone(ks.Dropped)
		c.LatencyBuckets = append([]uint64(nil), ks.LatencyBuckets...)
		c.Queued = queued[k]
		out[k] = c
	}
	return out
}

var (
	descEnqueued = prometheus.NewDesc("chatgate_push_enqueued_total", "Notifications accepted into the push queue.", []string{"provider"}, nil)
	descSent     = prometheus.NewDesc("chatgate_push_sent_total", "Notifications the provider accepted (first delivery).", []string{"provider"}, nil)
	descResent   = prometheus.NewDesc("chatgate_push_resent_total", "Resends of unacknowledged notifications the provider accepted.", []string{"provider"}, nil)
	descRetried  = prometheus.NewDesc("chatgate_push_retries_total", "Retries scheduled after transient failures.", []string{"provider"}, nil)
	descDead     = prometheus.NewDesc("chatgate_push_dead_total", "Notifications whose device or subscription was reported gone.", []string{"provider"}, nil)
	descAcked    = prometheus.NewDesc("chatgate_push_acked_total", "Acknowledged reliable notifications.", []string{"provider"}, nil)
	descFailed   = prometheus.NewDesc("chatgate_push_failed_total", "Failed send attempts by provider reason.", []string{"provider", "reason"}, nil)
	descDropped  = prometheus.NewDesc("chatgate_push_dropped_total", "Notifications lost to a bound.", []string{"provider", "reason"}, nil)
	descQueued   = prometheus.NewDesc("chatgate_push_queued", "Notifications waiting in the queue.", []string{"provider"}, nil)
	descLatency  = prometheus.NewDesc("chatgate_push_latency_seconds", "Enqueue to provider answer of successful sends.", []string{"provider"}, nil)
)

// Collector exposes the dispatcher's counters to Prometheus (register it on the server's
// private registry).
func (d *Dispatcher) Collector() prometheus.Collector { return collector{d} }

type collector struct{ d *Dispatcher }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEnqueued, descSent, descResent, descRetried, descDead, descAcked, descFailed, descDropped, descQueued, descLatency} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for k, s := range c.d.Stats() {
		l := string(k)
		ch <- prometheus.MustNewConstMetric(descEnqueued, prometheus.CounterValue, float64(s.Enqueued), l)
		ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(s.Sent), l)
		ch <- prometheus.MustNewConstMetric(descResent, prometheus.CounterValue, float64(s.Resent), l)
		ch <- prometheus.MustNewConstMetric(descRetried, prometheus.CounterValue, float64(s.Retried), l)
		ch <- prometheus.MustNewConstMetric(descDead, prometheus.CounterValue, float64(s.Dead), l)
		ch <- prometheus.MustNewConstMetric(descAcked, prometheus.CounterValue, float64(s.Acked), l)
		for r, v := range s.Failed {
			ch <- prometheus.MustNewConstMetric(descFailed, prometheus.CounterValue, float64(v), l, r)
		}
		for r, v := range s.Dropped {
			ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(v), l, r)
		}
		ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(s.Queued), l)
		buckets := make(map[float64]uint64, len(LatencyBuckets))
		for i, b := range LatencyBuckets {
			buckets[b] = s.LatencyBuckets[i]
		}
		ch <- prometheus.MustNewConstHistogram(descLatency, s.LatencyCount, s.LatencySum, buckets, l)
	}
}
