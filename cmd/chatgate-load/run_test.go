package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/bayeux"
)

// newBayeux serves a real bayeux.Server on loopback and a fake /metrics next to it.
func newBayeux(t *testing.T) (cometdURL string) {
	t.Helper()
	srv, err := bayeux.NewServer(bayeux.Config{
		ClientPublishChannels: []string{"/bench/**"},
		Logger:                slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/genesys/cometd", srv)
	mux.Handle("/genesys/cometd/", srv)
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "# HELP x\ngo_memstats_heap_inuse_bytes 1000\nprocess_resident_memory_bytes 5000 1700000000\nchatgate_bayeux_sessions{x=\"y\"} 3\nchatgate_bayeux_sessions %d\n", srv.Stats().Sessions)
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("bayeux shutdown: %v", err)
		}
		hs.CloseClientConnections()
		hs.Close()
	})
	return hs.URL + "/genesys/cometd"
}

func smallRun(url, transport string) Config {
	return Config{
		URL: url, Mode: "latency", Transport: transport, PubTransport: transport,
		Clients: 6, Channels: 2, Prefix: "/bench/", Publishers: 2, Rate: 40, Size: 100,
		Duration: 500 * time.Millisecond, Drain: 5 * time.Second, Sources: 2, Concurrency: 4, Procs: 1,
	}
}

func TestRealRunDeliversEveryMessageWithLatency(t *testing.T) {
	url := newBayeux(t)
	for _, transport := range []string{"websocket", "long-polling"} {
		t.Run(transport, func(t *testing.T) {
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			sum, err := run(t.Context(), smallRun(url, transport), options{MetricsURL: "none"}, nil, log)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Opened != 8 || sum.OpenFailed != 0 {
				t.Fatalf("opened %d failed %d, want 8/0; errors %v", sum.Opened, sum.OpenFailed, sum.Errors)
			}
			if sum.Published < 5 {
				t.Fatalf("published only %d in 500 ms at 40/s", sum.Published)
			}
			// Every publish goes to the 3 subscribers of its channel.
			if sum.Expected != 3*sum.Published || sum.Delivered != sum.Expected {
				t.Fatalf("delivered %d, expected %d for %d publishes; errors %v", sum.Delivered, sum.Expected, sum.Published, sum.Errors)
			}
			if sum.PublishAcked != sum.Published || sum.PublishFailed != 0 {
				t.Fatalf("acked %d failed %d of %d", sum.PublishAcked, sum.PublishFailed, sum.Published)
			}
			var h Histogram
			h.Import(sum.Latency)
			if h.Count() != sum.Delivered || sum.P50ms <= 0 || sum.MaxMS < sum.P99ms {
				t.Fatalf("latency count %d p50 %v p99 %v max %v", h.Count(), sum.P50ms, sum.P99ms, sum.MaxMS)
			}
		})
	}
}

func TestIdleRunReadsServerMemory(t *testing.T) {
	url := newBayeux(t)
	cfg := smallRun(url, "websocket")
	cfg.Mode, cfg.Publishers, cfg.Duration = "idle", 0, 10*time.Millisecond
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	metricsURL := strings.TrimSuffix(url, "/genesys/cometd") + "/metrics"
	sum, err := run(t.Context(), cfg, options{MetricsURL: metricsURL, Settle: 10 * time.Millisecond}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Server == nil {
		t.Fatal("no server metrics")
	}
	if got := sum.Server.After["chatgate_bayeux_sessions"]; got != 6 {
		t.Fatalf("server counted %v sessions while 6 were open (labelled series must be ignored)", got)
	}
	if sum.Server.After["process_resident_memory_bytes"] != 5000 {
		t.Fatalf("timestamped sample not parsed: %v", sum.Server.After)
	}
}

func TestProcsSplitClientsAndMergeResults(t *testing.T) {
	url := newBayeux(t)
	t.Setenv(childEnv, "1")
	cfg := smallRun(url, "websocket")
	cfg.Procs = 2
	args := []string{"-url", url, "-transport", "websocket", "-clients", "6", "-channels", "2",
		"-publishers", "2", "-rate", "40", "-duration", "500ms", "-drain", "5s", "-sources", "2", "-procs", "2",
		"-metrics-url", "none"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sum, err := run(t.Context(), cfg, options{MetricsURL: "none"}, args, log)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Clients != 6 || sum.Publishers != 2 || sum.Opened != 8 {
		t.Fatalf("clients %d publishers %d opened %d", sum.Clients, sum.Publishers, sum.Opened)
	}
	if sum.Published < 5 || sum.Delivered != 3*sum.Published || sum.Expected != sum.Delivered {
		t.Fatalf("published %d delivered %d expected %d; errors %v", sum.Published, sum.Delivered, sum.Expected, sum.Errors)
	}
}
