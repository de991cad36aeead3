package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// Result is what one worker (one process) measured; results from several processes merge.
type Result struct {
	Mode       string `json:"mode"`
	Transport  string `json:"transport"`
	Clients    int    `json:"clients"`
	Publishers int    `json:"publishers"`
	Channels   int    `json:"channels"`

	Opened        int64   `json:"opened"`
	OpenFailed    int64   `json:"open_failed"`
	OpenSeconds   float64 `json:"open_seconds"` // wall time to open every session (slowest process)
	Published     int64   `json:"published"`
	PublishAcked  int64   `json:"publish_acked"`
	PublishFailed int64   `json:"publish_failed"`
	Delivered     int64   `json:"delivered"` // stamped messages received during the run and drain
	Expected      int64   `json:"expected"`  // deliveries the publishes should cause
	RunSeconds    float64 `json:"run_seconds"`

	Latency HistogramJSON    `json:"latency"`
	Events  map[string]int64 `json:"events,omitempty"`
	Errors  []string         `json:"errors,omitempty"` // first few distinct errors

	GMS *GMSResult `json:"gms,omitempty"` // GMS chat API modes
}

const maxErrors = 10

// Merge adds o into r (counts add, times take the maximum, the histogram merges exactly).
func (r *Result) Merge(o Result) {
	if r.Mode == "" {
		r.Mode, r.Transport, r.Channels = o.Mode, o.Transport, o.Channels
	}
	r.Clients += o.Clients
	r.Publishers += o.Publishers
	r.Opened += o.Opened
	r.OpenFailed += o.OpenFailed
	r.OpenSeconds = max(r.OpenSeconds, o.OpenSeconds)
	r.Published += o.Published
	r.PublishAcked += o.PublishAcked
	r.PublishFailed += o.PublishFailed
	r.Delivered += o.Delivered
	r.Expected += o.Expected
	r.RunSeconds = max(r.RunSeconds, o.RunSeconds)
	var h Histogram
	h.Import(r.Latency)
	h.Import(o.Latency)
	r.Latency = h.Export()
	if len(o.Events) > 0 && r.Events == nil {
		r.Events = map[string]int64{}
	}
	for k, v := range o.Events {
		r.Events[k] += v
	}
	if o.GMS != nil {
		if r.GMS == nil {
			r.GMS = &GMSResult{}
		}
		r.GMS.Merge(o.GMS)
	}
	for _, e := range o.Errors {
		if len(r.Errors) < maxErrors && !slices.Contains(r.Errors, e) {
			r.Errors = append(r.Errors, e)
		}
	}
}

// Summary is the derived view printed for people and written as JSON.
type Summary struct {
	Result
	DeliveredPerSec float64 `json:"delivered_per_sec"`
	PublishedPerSec float64 `json:"published_per_sec"`
	LossRatio       float64 `json:"loss_ratio"`
	P50ms           float64 `json:"p50_ms"`
	P90ms           float64 `json:"p90_ms"`
	P99ms           float64 `json:"p99_ms"`
	MaxMS           float64 `json:"max_ms"`

	Server *ServerMemory `json:"server,omitempty"`

	GMSRates *GMSRates      `json:"gms_rates,omitempty"`
	Startup  *StartupResult `json:"startup,omitempty"`
}

// ServerMemory is the server's own view from /metrics, before and after opening the sessions.
type ServerMemory struct {
	Before                   map[string]float64 `json:"before"`
	After                    map[string]float64 `json:"after"`
	HeapInuseDeltaPerSession float64            `json:"heap_inuse_delta_per_session_bytes"`
	RSSDeltaPerSession       float64            `json:"rss_delta_per_session_bytes"`
	Sessions                 int64              `json:"sessions"` // sessions (idle) or chats created (gms-idle)
	// GCAfter (gms-idle) tells whether a garbage collection completed between the last
	// creation and the "after" reading.
	GCAfter *bool `json:"gc_after,omitempty"`
}

// Summarize computes rates and percentiles.
func Summarize(r Result) Summary {
	var h Histogram
	h.Import(r.Latency)
	s := Summary{Result: r}
	if r.RunSeconds > 0 {
		s.DeliveredPerSec = float64(r.Delivered) / r.RunSeconds
		s.PublishedPerSec = float64(r.Published) / r.RunSeconds
	}
	if r.Expected > 0 {
		s.LossRatio = 1 - float64(r.Delivered)/float64(r.Expected)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	s.P50ms, s.P90ms, s.P99ms, s.MaxMS = ms(h.Quantile(0.5)), ms(h.Quantile(0.9)), ms(h.Quantile(0.99)), ms(h.Max())
	if r.GMS != nil {
		s.GMSRates = ratesOf(r.GMS)
	}
	return s
}

// Print writes the human summary.
func (s Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "mode=%s transport=%s clients=%d publishers=%d channels=%d\n",
		s.Mode, s.Transport, s.Clients, s.Publishers, s.Channels)
	if s.Transport != "rest" {
		fmt.Fprintf(w, "sessions opened %d (failed %d) in %.1fs\n", s.Opened, s.OpenFailed, s.OpenSeconds)
	}
	if s.Mode == "latency" {
		fmt.Fprintf(w, "published %d (%.0f/s, acked %d, failed %d) over %.1fs\n",
			s.Published, s.PublishedPerSec, s.PublishAcked, s.PublishFailed, s.RunSeconds)
		fmt.Fprintf(w, "delivered %d of %d expected (%.0f msg/s, loss %.4f%%)\n",
			s.Delivered, s.Expected, s.DeliveredPerSec, 100*s.LossRatio)
		fmt.Fprintf(w, "latency p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", s.P50ms, s.P90ms, s.P99ms, s.MaxMS)
	}
	if s.GMS != nil {
		s.printGMS(w)
	}
	if m := s.Server; m != nil {
		for _, k := range slices.Sorted(maps.Keys(m.After)) {
			fmt.Fprintf(w, "server %s: before %.0f after %.0f\n", k, m.Before[k], m.After[k])
		}
		if isGMSMode(s.Mode) && m.Sessions > 0 {
			gc := "no GC seen after the last creation: heap includes garbage"
			if m.GCAfter != nil && *m.GCAfter {
				gc = "after a GC"
			}
			fmt.Fprintf(w, "server memory per chat: heap_inuse %.0f B, RSS %.0f B (over %d chats; %s)\n",
				m.HeapInuseDeltaPerSession, m.RSSDeltaPerSession, m.Sessions, gc)
		}
		if s.Mode == "idle" {
			fmt.Fprintf(w, "server memory per session: heap_inuse %.0f B, RSS %.0f B (over %d sessions)\n",
				m.HeapInuseDeltaPerSession, m.RSSDeltaPerSession, m.Sessions)
		}
	}
	if s.Startup != nil {
		s.Startup.print(w)
	}
	if len(s.Events) > 0 {
		fmt.Fprintf(w, "events:")
		for _, k := range slices.Sorted(maps.Keys(s.Events)) {
			fmt.Fprintf(w, " %s=%d", k, s.Events[k])
		}
		fmt.Fprintln(w)
	}
	for _, e := range s.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}
