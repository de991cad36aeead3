package feed

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics is a prometheus.Collector of the feed: records appended (by kind) and refused,
// webhook attempts by outcome, retries, dead letters and delivery lag per endpoint, replays,
// and the open event streams. Values are read from the feed's own counters at each scrape
// (as web/chatmetrics does), so counting costs the delivery path two atomic adds. The
// endpoint label is the endpoint id, bounded by WebhookConfig.MaxEndpoints; a deleted
// endpoint's series go with it.
type Metrics struct {
	feed  *Feed
	hooks *Webhooks // nil: no webhook series
	api   *API      // nil: no stream gauge

	descRecords, descRecordFailures, descAttempts, descRetries, descDeadLettered,
	descDeadLetters, descReplays, descLag, descStreams *prometheus.Desc
}

// NewMetrics collects f, hooks and api (hooks and api may be nil).
func NewMetrics(f *Feed, hooks *Webhooks, api *API) *Metrics {
	name := func(n string) string { return prometheus.BuildFQName("chatgate", "feed", n) }
	ep := []string{"endpoint"}
	return &Metrics{
		feed: f, hooks: hooks, api: api,
		descRecords:        prometheus.NewDesc(name("records_total"), "Feed records stored (stream FEED), by kind: event, properties.", []string{"kind"}, nil),
		descRecordFailures: prometheus.NewDesc(name("record_failures_total"), "Feed records the store refused or did not acknowledge in time (missing from the feed; each is logged).", nil, nil),
		descAttempts:       prometheus.NewDesc(name("webhook_attempts_total"), "Webhook delivery attempts by outcome: delivered (2xx), rejected (another status), failed (connection error, timeout).", []string{"endpoint", "outcome"}, nil),
		descRetries:        prometheus.NewDesc(name("webhook_retries_total"), "Webhook attempts after a record's first one.", ep, nil),
		descDeadLettered:   prometheus.NewDesc(name("webhook_dead_lettered_total"), "Records moved to an endpoint's dead letters after webhook-max-attempts.", ep, nil),
		descDeadLetters:    prometheus.NewDesc(name("webhook_dead_letters"), "Dead letters waiting for a replay, per endpoint (stream FEED_DEAD).", ep, nil),
		descReplays:        prometheus.NewDesc(name("webhook_replays_total"), "Dead letters replayed through the API, by outcome: delivered, failed.", []string{"endpoint", "outcome"}, nil),
		descLag:            prometheus.NewDesc(name("webhook_delivery_lag_seconds"), "From a record's stored time to the endpoint's 2xx (retries included).", ep, nil),
		descStreams:        prometheus.NewDesc(name("stream_clients"), "Open Server-Sent Events streams (GET /workflow/v1/feed/events).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.descRecords, m.descRecordFailures, m.descAttempts, m.descRetries,
		m.descDeadLettered, m.descDeadLetters, m.descReplays, m.descLag, m.descStreams} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	st := m.feed.Stats()
	for _, k := range []string{KindEvent, KindProperties} { // always shown, 0 before the first
		if _, ok := st.ByKind[k]; !ok {
			st.ByKind[k] = 0
		}
	}
	for k, n := range st.ByKind {
		ch <- prometheus.MustNewConstMetric(m.descRecords, prometheus.CounterValue, float64(n), k)
	}
	ch <- prometheus.MustNewConstMetric(m.descRecordFailures, prometheus.CounterValue, float64(st.Failed))
	if m.api != nil {
		ch <- prometheus.MustNewConstMetric(m.descStreams, prometheus.GaugeValue, float64(m.api.OpenStreams()))
	}
	if m.hooks == nil {
		return
	}
	stats := m.hooks.Stats()
	for id, s := range stats {
		for _, o := range []struct {
			outcome string
			n       uint64
		}{{"delivered", s.Delivered}, {"rejected", s.Rejected}, {"failed", s.Failed}} {
			ch <- prometheus.MustNewConstMetric(m.descAttempts, prometheus.CounterValue, float64(o.n), id, o.outcome)
		}
		ch <- prometheus.MustNewConstMetric(m.descRetries, prometheus.CounterValue, float64(s.Retries), id)
		ch <- prometheus.MustNewConstMetric(m.descDeadLettered, prometheus.CounterValue, float64(s.DeadLettered), id)
		ch <- prometheus.MustNewConstMetric(m.descReplays, prometheus.CounterValue, float64(s.Replayed), id, "delivered")
		ch <- prometheus.MustNewConstMetric(m.descReplays, prometheus.CounterValue, float64(s.ReplayFailed), id, "failed")
		buckets := make(map[float64]uint64, len(LagBuckets))
		var cum uint64
		for i, le := range LagBuckets {
			cum += s.LagCounts[i]
			buckets[le] = cum
		}
		cum += s.LagCounts[len(LagBuckets)]
		ch <- prometheus.MustNewConstHistogram(m.descLag, cum, s.LagSum, buckets, id)
	}
	// The waiting dead letters are read from the store: bounded, and skipped when it does
	// not answer (the scrape still has everything else).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := m.hooks.DeadLetterCounts(ctx)
	if err != nil {
		return
	}
	for id := range stats {
		ch <- prometheus.MustNewConstMetric(m.descDeadLetters, prometheus.GaugeValue, float64(counts[id]), id)
	}
}
