package routing

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// collector reads a fresh Stats snapshot on every scrape, so the router keeps plain counters
// and its decisions never wait for Prometheus.
type collector struct {
	stats                            func() Stats
	waiting, offered, oldest, agents *prometheus.Desc
	offers, outcomes                 *prometheus.Desc
	toAccept, handle, wait           *prometheus.Desc
}

// NewCollector exports r's Stats as chatgate_routing_* metrics (web registers it on its
// private registry).
func NewCollector(r *Router) prometheus.Collector { return newCollector(r.Stats) }

func newCollector(stats func() Stats) *collector {
	name := func(n string) string { return prometheus.BuildFQName("chatgate", "routing", n) }
	return &collector{
		stats:    stats,
		waiting:  prometheus.NewDesc(name("queue_waiting"), "Chats waiting in a queue (not being offered).", []string{"queue"}, nil),
		offered:  prometheus.NewDesc(name("queue_offered"), "Chats of a queue being offered to an agent now.", []string{"queue"}, nil),
		oldest:   prometheus.NewDesc(name("queue_oldest_wait_seconds"), "Wait of a queue's oldest waiting chat.", []string{"queue"}, nil),
		agents:   prometheus.NewDesc(name("agents"), "Logged-in agents by routing state.", []string{"state"}, nil),
		offers:   prometheus.NewDesc(name("offers_total"), "Offers made to agents.", nil, nil),
		outcomes: prometheus.NewDesc(name("offer_outcomes_total"), "How offers ended: accepted, rejected, timeout, agent-state, chat-gone.", []string{"outcome"}, nil),
		toAccept: prometheus.NewDesc(name("time_to_accept_seconds"), "From an offer to its accept.", nil, nil),
		handle:   prometheus.NewDesc(name("handle_seconds"), "From an agent's join to its leave.", nil, nil),
		wait:     prometheus.NewDesc(name("wait_seconds"), "From the start of a chat's wait to the accept that ends it.", nil, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.waiting, c.offered, c.oldest, c.agents, c.offers, c.outcomes, c.toAccept, c.handle, c.wait} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	for q, qs := range boundedQueues(s.Queues) {
		ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(qs.Waiting), q)
		ch <- prometheus.MustNewConstMetric(c.offered, prometheus.GaugeValue, float64(qs.Offered), q)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, qs.OldestWait.Seconds(), q)
	}
	for _, st := range []State{StateReady, StateNotReady} {
		ch <- prometheus.MustNewConstMetric(c.agents, prometheus.GaugeValue, float64(s.Agents[st]), string(st))
	}
	ch <- prometheus.MustNewConstMetric(c.offers, prometheus.CounterValue, float64(s.Offers))
	out := map[string]uint64{"accepted": s.Accepted, "rejected": s.Rejected, "timeout": s.TimedOut,
		string(WithdrawAgent): s.Withdrawn[WithdrawAgent], string(WithdrawChat): s.Withdrawn[WithdrawChat]}
	for k, v := range out {
		ch <- prometheus.MustNewConstMetric(c.outcomes, prometheus.CounterValue, float64(v), k)
	}
	for _, h := range []struct {
		d *prometheus.Desc
		h Histogram
	}{{c.toAccept, s.TimeToAccept}, {c.handle, s.HandleTime}, {c.wait, s.WaitTime}} {
		ch <- prometheus.MustNewConstHistogram(h.d, h.h.Count, h.h.Sum, cumulative(h.h))
	}
}

// cumulative turns the histogram's per-bucket counts into Prometheus' cumulative buckets.
func cumulative(h Histogram) map[float64]uint64 {
	out := make(map[float64]uint64, len(h.Bounds))
	var n uint64
	for i, b := range slices.Clone(h.Bounds) {
		n += h.Counts[i]
		out[b] = n
	}
	return out
}

// MaxQueueLabels bounds the queue label of the metrics: with no service list, a customer
// may name any service, and each name is a queue. The queues agents serve come first, then
// the longest; the rest are summed under queue="_other".
const MaxQueueLabels = 64

// OtherQueue is the label of the queues beyond MaxQueueLabels.
const OtherQueue = "_other"

func boundedQueues(qs map[string]QueueStats) map[string]QueueStats {
	if len(qs) <= MaxQueueLabels {
		return qs
	}
	names := slices.Collect(maps.Keys(qs))
	slices.SortFunc(names, func(a, b string) int {
		x, y := qs[a], qs[b]
		if (x.Agents > 0) != (y.Agents > 0) {
			if x.Agents > 0 {
				return -1
			}
			return 1
		}
		if x.Waiting != y.Waiting {
			return cmp.Compare(y.Waiting, x.Waiting)
		}
		return strings.Compare(a, b)
	})
	out := make(map[string]QueueStats, MaxQueueLabels)
	var other QueueStats
	for i, n := range names {
		if i < MaxQueueLabels-1 {
			out[n] = qs[n]
			continue
		}
		q := qs[n]
		other.Waiting += q.Waiting
		other.Offered += q.Offered
		other.Agents += q.Agents
		other.Ready += q.Ready
		other.OldestWait = max(other.OldestWait, q.OldestWait)
	}
	out[OtherQueue] = other
	return out
}
