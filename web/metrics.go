package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsNamespace prefixes every chatgate metric.
const MetricsNamespace = "chatgate"

// NewRegistry returns a private Prometheus registry with the Go runtime, process and build
// information collectors (go_*, process_*, go_build_info). A private registry, not the global default, so that tests
// can run several servers in one process and nothing registers behind our back.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
	)
	return reg
}

func metricsHandler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            slogPromLogger{log},
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            reg, // promhttp_metric_handler_errors_total
		MaxRequestsInFlight: 4,
	})
}

// slogPromLogger adapts slog to promhttp's Println-style error log.
type slogPromLogger struct{ log *slog.Logger }

func (l slogPromLogger) Println(v ...any) { l.log.Warn("metrics", "err", fmt.Sprint(v...)) }

// BayeuxStats is the snapshot the Bayeux collector exports; it mirrors bayeux.Stats so that
// the collector can be tested without a Bayeux server.
type BayeuxStats struct {
	Sessions      int64             // live sessions
	Connections   map[string]int64  // open connections by transport
	MessagesIn    uint64            // messages received from clients
	MessagesOut   uint64            // messages sent to clients
	QueueDrops    uint64            // messages dropped on a full session queue
	QueuedBytes   int64             // encoded bytes waiting in session queues and websocket frame lists
	Subscriptions int64             // subscriptions of all live sessions
	Refusals      map[string]uint64 // refused by an abuse limit, by reason
}

// bayeuxCollector reads a fresh snapshot on every scrape, so the Bayeux server keeps plain
// atomic counters and knows nothing about Prometheus.
type bayeuxCollector struct {
	stats       func() BayeuxStats
	sessions    *prometheus.Desc
	connections *prometheus.Desc
	in, out     *prometheus.Desc
	drops       *prometheus.Desc
	refusals    *prometheus.Desc
	queued      *prometheus.Desc
	subs        *prometheus.Desc
}

// NewBayeuxCollector exports stats() as chatgate_bayeux_* metrics.
func NewBayeuxCollector(stats func() BayeuxStats) prometheus.Collector {
	name := func(n string) string { return prometheus.BuildFQName(MetricsNamespace, "bayeux", n) }
	return &bayeuxCollector{
		stats:       stats,
		sessions:    prometheus.NewDesc(name("sessions"), "Live Bayeux sessions (handshaken, not yet disconnected or expired).", nil, nil),
		connections: prometheus.NewDesc(name("connections"), "Bayeux connections open now (held long-polls, open websockets) by transport.", []string{"transport"}, nil),
		in:          prometheus.NewDesc(name("messages_in_total"), "Bayeux messages received from clients.", nil, nil),
		out:         prometheus.NewDesc(name("messages_out_total"), "Bayeux messages sent to clients.", nil, nil),
		drops:       prometheus.NewDesc(name("queue_drops_total"), "Messages dropped because a session queue was full.", nil, nil),
		subs:        prometheus.NewDesc(name("subscriptions"), "Bayeux subscriptions of all live sessions (service-channel subscriptions are not recorded).", nil, nil),
		queued:      prometheus.NewDesc(name("queued_bytes"), "Encoded bytes waiting for Bayeux clients (session queues, unacknowledged messages, unsent websocket frames).", nil, nil),
		refusals:    prometheus.NewDesc(name("refusals_total"), "Requests refused by a Bayeux abuse limit (docs/operations.md, Limits and abuse), by reason.", []string{"reason"}, nil),
	}
}

// bayeuxTransports are always exported, at 0 when idle, so dashboards need no absent().
var bayeuxTransports = []string{"websocket", "long-polling", "callback-polling"}

func (c *bayeuxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sessions
	ch <- c.connections
	ch <- c.in
	ch <- c.out
	ch <- c.drops
	ch <- c.refusals
	ch <- c.queued
	ch <- c.subs
}

func (c *bayeuxCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(s.Sessions))
	for _, t := range bayeuxTransports {
		ch <- prometheus.MustNewConstMetric(c.connections, prometheus.GaugeValue, float64(s.Connections[t]), t)
	}
	for t, n := range s.Connections {
		if !slices.Contains(bayeuxTransports, t) {
			ch <- prometheus.MustNewConstMetric(c.connections, prometheus.GaugeValue, float64(n), t)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.in, prometheus.CounterValue, float64(s.MessagesIn))
	ch <- prometheus.MustNewConstMetric(c.out, prometheus.CounterValue, float64(s.MessagesOut))
	ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(s.QueueDrops))
	ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(s.QueuedBytes))
	ch <- prometheus.MustNewConstMetric(c.subs, prometheus.GaugeValue, float64(s.Subscriptions))
	for reason, n := range s.Refusals {
		ch <- prometheus.MustNewConstMetric(c.refusals, prometheus.CounterValue, float64(n), reason)
	}
}

// ChatCoreStats is the snapshot the chat-core collector exports; it mirrors chatcore.Stats
// and jetstore.Usage so that the collector can be tested without a store.
type ChatCoreStats struct {
	ChatsInMemory int
	// Refusals by per-chat limit: transcript_full, event_rate, userdata.
	Refusals map[string]uint64
	// StoreBytes and StoreQuotaBytes by part (transcripts, states, files); a quota of 0 is
	// none. StoreOK is false when the store could not be asked (the byte gauges are then
	// left out of the scrape rather than reported as 0).
	StoreOK            bool
	StoreBytes         map[string]uint64
	StoreQuotaBytes    map[string]int64
	StoreQuotaRefusals uint64
}

type chatCoreCollector struct {
	stats                          func() ChatCoreStats
	inMemory, refusals             *prometheus.Desc
	storeBytes, quota, quotaRefuse *prometheus.Desc
}

// NewChatCoreCollector exports stats() as chatgate_chatcore_chats_in_memory,
// chatgate_chat_limit_refusals_total{limit}, chatgate_store_bytes{part},
// chatgate_store_quota_bytes{part} and chatgate_store_quota_refusals_total.
func NewChatCoreCollector(stats func() ChatCoreStats) prometheus.Collector {
	return &chatCoreCollector{
		stats:       stats,
		inMemory:    prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, "chatcore", "chats_in_memory"), "Chats the chat core holds in memory (live ones; ended chats are released once their end is stored and delivered).", nil, nil),
		refusals:    prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, "chat", "limit_refusals_total"), "Chat operations refused by a per-chat limit, by limit (transcript_full, event_rate, userdata).", []string{"limit"}, nil),
		storeBytes:  prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, "store", "bytes"), "Bytes the chat store holds, by part (transcripts, states, files).", []string{"part"}, nil),
		quota:       prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, "store", "quota_bytes"), "Quota of each part of the chat store in bytes (0: none of chatgate's own).", []string{"part"}, nil),
		quotaRefuse: prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, "store", "quota_refusals_total"), "Writes the chat store refused because a quota (or the engine's storage) was full.", nil, nil),
	}
}

var (
	chatLimits = []string{"transcript_full", "event_rate", "userdata"}
	storeParts = []string{"transcripts", "states", "files"}
)

func (c *chatCoreCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.inMemory
	ch <- c.refusals
	ch <- c.storeBytes
	ch <- c.quota
	ch <- c.quotaRefuse
}

func (c *chatCoreCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.inMemory, prometheus.GaugeValue, float64(s.ChatsInMemory))
	for _, l := range chatLimits {
		ch <- prometheus.MustNewConstMetric(c.refusals, prometheus.CounterValue, float64(s.Refusals[l]), l)
	}
	for _, p := range storeParts {
		if s.StoreOK {
			ch <- prometheus.MustNewConstMetric(c.storeBytes, prometheus.GaugeValue, float64(s.StoreBytes[p]), p)
		}
		ch <- prometheus.MustNewConstMetric(c.quota, prometheus.GaugeValue, float64(s.StoreQuotaBytes[p]), p)
	}
	ch <- prometheus.MustNewConstMetric(c.quotaRefuse, prometheus.CounterValue, float64(s.StoreQuotaRefusals))
}
