package chatmetrics

import (
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/pushlink"
)

// DefaultMaxServices bounds the distinct service label values.
const DefaultMaxServices = 64

// OtherService is the label value for services beyond MaxServices.
const OtherService = "_other"

// Core is what the metrics read from the chat core (*chatcore.Core satisfies it).
type Core interface {
	AddListener(l chatcore.Listener) (remove func())
	ChatIDs() []string
	Chat(chatID string) (chatcore.ChatView, error)
	TimersArmed() int
}

// Config configures New.
type Config struct {
	Core Core
	// Pushes returns the push link's decision counters (nil: no push metrics).
	Pushes func() pushlink.Stats
	// Logger receives the chat created / ended lines (nil: slog.Default()).
	Logger *slog.Logger
	// MaxServices bounds the service label values (0: DefaultMaxServices).
	MaxServices int
}

// openKey is one series of the open-chat gauge.
type openKey struct{ service, status string }

type countKey struct{ service, label string }

// Metrics is a chatcore.Listener and a prometheus.Collector.
type Metrics struct {
	core   Core
	pushes func() pushlink.Stats
	log    *slog.Logger
	maxSvc int
	remove func()

	mu       sync.Mutex
	services map[string]bool    // service names admitted as label values
	open     map[string]openKey // open chats by id
	openN    map[openKey]int    // series value of the open gauge
	created  map[string]uint64  // by service label
	ended    map[countKey]uint64
	messages map[countKey]uint64 // label: direction

	descOpen, descCreated, descEnded, descMessages, descTimers, descPushes *prometheus.Desc
}

// New registers the metrics as a listener of cfg.Core and seeds the open-chat gauge with
// the chats the core holds. Call it after the core is created and before its timers start
// (so that the deferred timer firings are counted); Close removes the listener.
func New(cfg Config) *Metrics {
	name := func(n string) string { return prometheus.BuildFQName("chatgate", "chat", n) }
	m := &Metrics{
		core: cfg.Core, pushes: cfg.Pushes, log: cfg.Logger, maxSvc: cfg.MaxServices,
		services: map[string]bool{}, open: map[string]openKey{}, openN: map[openKey]int{},
		created: map[string]uint64{}, ended: map[countKey]uint64{}, messages: map[countKey]uint64{},
		descOpen:     prometheus.NewDesc(name("open"), "Chats open on this node by service and async status (sync for non-async chats).", []string{"service", "async_status"}, nil),
		descCreated:  prometheus.NewDesc(name("created_total"), "Chats created on this node.", []string{"service"}, nil),
		descEnded:    prometheus.NewDesc(name("ended_total"), "Chats ended on this node, by the customer's quit reason.", []string{"service", "reason"}, nil),
		descMessages: prometheus.NewDesc(name("messages_total"), "Chat messages committed: in from the customer, out from agents, supervisors and bots.", []string{"service", "direction"}, nil),
		descTimers:   prometheus.NewDesc(name("timers_armed"), "Chats with a deadline armed (idle control, async check, flex timeouts).", nil, nil),
		descPushes:   prometheus.NewDesc(name("pushes_total"), "Push decisions for chat events, by outcome.", []string{"outcome"}, nil),
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.maxSvc <= 0 {
		m.maxSvc = DefaultMaxServices
	}
	m.remove = cfg.Core.AddListener(m)
	for _, id := range cfg.Core.ChatIDs() {
		v, err := cfg.Core.Chat(id)
		if err != nil || v.Ended {
			continue
		}
		m.mu.Lock()
		if _, known := m.open[id]; !known { // the listener already saw a newer state
			m.setOpen(id, m.openKeyOf(v))
		}
		m.mu.Unlock()
	}
	return m
}

// Close stops listening to the core.
func (m *Metrics) Close() { m.remove() }

// serviceLabel admits a service name as a label value while fewer than maxSvc are. m.mu held.
func (m *Metrics) serviceLabel(s string) string {
	if m.services[s] {
		return s
	}
	if len(m.services) < m.maxSvc {
		m.services[s] = true
		return s
	}
	return OtherService
}

func (m *Metrics) openKeyOf(v chatcore.ChatView) openKey {
	return openKey{service: m.serviceLabel(v.Service), status: asyncStatus(v)}
}

// setOpen moves chat id to series k (or out of the gauge when k is zero). m.mu held.
func (m *Metrics) setOpen(id string, k openKey) {
	if old, ok := m.open[id]; ok {
		if old == k {
			return
		}
		m.openN[old]--
		delete(m.open, id)
	}
	if k != (openKey{}) {
		m.open[id] = k
		m.openN[k]++
	}
}

// asyncStatus names GCTI_Chat_AsyncStatus for the label.
func asyncStatus(v chatcore.ChatView) string {
	if !v.Async {
		return "sync"
	}
	switch v.AsyncStatus {
	case chatcore.AsyncOnHold:
		return "on_hold"
	case chatcore.AsyncProcessing:
		return "processing"
	case chatcore.AsyncCreated:
		return "created"
	case chatcore.AsyncCustomer:
		return "customer"
	case chatcore.AsyncAlerted:
		return "alerted"
	}
	return "other"
}

// QuitReasonName names a customer's quit reason code for the ended_total label and the log
// (chatcore.QuitReason.Name; "unknown" for a code that is not a number).
func QuitReasonName(code string) string {
	n, err := strconv.Atoi(code)
	if err != nil {
		return "unknown"
	}
	return chatcore.QuitReason(n).Name()
}

// OnEvent implements chatcore.Listener. Creation is the commit of a chat's first event;
// the end is the customer's ParticipantLeft in the commit that ended the chat (the customer
// always leaves last or first in that commit, with the reason that describes the end).
func (m *Metrics) OnEvent(v chatcore.ChatView, ev chatcore.Event) {
	var logCreated, logEnded bool
	var reason string
	m.mu.Lock()
	svc := m.serviceLabel(v.Service)
	switch {
	case ev.Index == 1:
		m.created[svc]++
		logCreated = true
	case ev.Type == chatcore.EventMessage:
		dir := "out"
		if ev.From.Type == chatcore.Client {
			dir = "in"
		}
		m.messages[countKey{svc, dir}]++
	case ev.Type == chatcore.EventParticipantLeft && v.Ended && ev.From.Type == chatcore.Client && ev.From.UserID == v.Customer:
		reason = QuitReasonName(ev.UserData[chatcore.KeyQuitReason])
		m.ended[countKey{svc, reason}]++
		logEnded = true
	}
	if v.Ended {
		m.setOpen(v.ID, openKey{})
	} else {
		m.setOpen(v.ID, m.openKeyOf(v))
	}
	m.mu.Unlock()
	// Logged outside the lock; the view's secrets (SecureKey, UserData) are never logged.
	if logCreated {
		m.log.Info("chat created", "chat", v.ID, "service", v.Service, "async", v.Async)
	}
	if logEnded {
		m.log.Info("chat ended", "chat", v.ID, "service", v.Service, "reason", reason,
			"duration", time.Unix(0, ev.UTCTime*int64(time.Millisecond)).Sub(v.Created).Round(time.Millisecond))
	}
}

// OnProperties implements chatcore.Listener: an async status change moves the chat between
// series of the open gauge.
func (m *Metrics) OnProperties(v chatcore.ChatView, _ map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v.Ended {
		m.setOpen(v.ID, openKey{})
		return
	}
	m.setOpen(v.ID, m.openKeyOf(v))
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.descOpen, m.descCreated, m.descEnded, m.descMessages, m.descTimers, m.descPushes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the values are copied under the lock and sent
// after it is released.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	var out []prometheus.Metric
	m.mu.Lock()
	for k, n := range m.openN {
		out = append(out, prometheus.MustNewConstMetric(m.descOpen, prometheus.GaugeValue, float64(n), k.service, k.status))
	}
	for s, n := range m.created {
		out = append(out, prometheus.MustNewConstMetric(m.descCreated, prometheus.CounterValue, float64(n), s))
	}
	for k, n := range m.ended {
		out = append(out, prometheus.MustNewConstMetric(m.descEnded, prometheus.CounterValue, float64(n), k.service, k.label))
	}
	for k, n := range m.messages {
		out = append(out, prometheus.MustNewConstMetric(m.descMessages, prometheus.CounterValue, float64(n), k.service, k.label))
	}
	m.mu.Unlock()
	for _, x := range out {
		ch <- x
	}
	ch <- prometheus.MustNewConstMetric(m.descTimers, prometheus.GaugeValue, float64(m.core.TimersArmed()))
	if m.pushes != nil {
		s := m.pushes()
		for _, p := range []struct {
			outcome string
			n       uint64
		}{
			{"notified", s.Notified},
			{"suppressed_active_client", s.Suppressed},
			{"skipped_dead", s.SkippedDead},
			{"enqueue_failed", s.EnqueueFailed},
		} {
			ch <- prometheus.MustNewConstMetric(m.descPushes, prometheus.CounterValue, float64(p.n), p.outcome)
		}
	}
}
