package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// gcMetrics tell whether the server collected garbage since a given moment.
var gcMetrics = []string{"go_gc_duration_seconds_count", "go_memstats_last_gc_time_seconds"}

// runGMS drives one GMS-mode measurement.
func runGMS(ctx context.Context, cfg Config, opts options, args []string, log *slog.Logger) (Summary, error) {
	switch cfg.Mode {
	case "gms-startup":
		return runStartup(ctx, cfg, opts, log)
	case "gms-idle":
		return runIdle(ctx, cfg, opts, args, log)
	}
	// Server CPU and memory around the run, when /metrics answers.
	names := append([]string{"process_cpu_seconds_total"}, serverMetrics...)
	before, merr := scrape(ctx, opts.MetricsURL, names)
	if merr != nil && opts.MetricsURL != "none" && opts.MetricsURL != "" {
		log.Warn("no server metrics", "err", merr)
	}
	res, err := runStages(ctx, cfg, args, log)
	if err != nil {
		return Summary{}, err
	}
	sum := Summarize(res)
	if merr == nil {
		if after, err := scrape(ctx, opts.MetricsURL, names); err == nil {
			sum.Server = &ServerMemory{Before: before, After: after}
			if g := res.GMS; g != nil && g.Created+g.Acked > 0 {
				sum.GMSRates.ServerCPUPerOpUS = 1e6 * (after["process_cpu_seconds_total"] - before["process_cpu_seconds_total"]) / float64(g.Created+g.Acked)
			}
		}
	}
	return sum, nil
}

// runStages opens, runs and closes the workers (in this process or in -procs children).
func runStages(ctx context.Context, cfg Config, args []string, log *slog.Logger) (Result, error) {
	st, err := newStage(ctx, cfg, args, log)
	if err != nil {
		return Result{}, err
	}
	log.Info("opening", "mode", cfg.Mode, "customers", cfg.Clients, "chats", cfg.Chats, "transport", cfg.Transport, "procs", cfg.Procs)
	if err := st.opened(ctx); err != nil {
		_ = st.close(context.WithoutCancel(ctx))
		return Result{}, err
	}
	log.Info("running", "mode", cfg.Mode, "messages", cfg.Messages, "max-duration", cfg.Duration)
	res, err := st.results(ctx)
	cerr := st.close(context.WithoutCancel(ctx))
	if err != nil {
		return Result{}, err
	}
	if cerr != nil {
		log.Warn("closing workers", "err", cerr)
	}
	return res, nil
}

// runIdle creates cfg.Chats chats over REST and reports the server's memory per chat: /metrics
// before, then after the first garbage collection that completes once every chat exists (the
// Go runtime forces one at least every 2 minutes), so heap_inuse holds live chats rather than
// the garbage of creating them.
func runIdle(ctx context.Context, cfg Config, opts options, args []string, log *slog.Logger) (Summary, error) {
	before, err := scrape(ctx, opts.MetricsURL, serverMetrics)
	if err != nil {
		return Summary{}, fmt.Errorf("gms-idle needs the server's /metrics: %w", err)
	}
	res, err := runStages(ctx, cfg, args, log)
	if err != nil {
		return Summary{}, err
	}
	after, gc, err := scrapeAfterGC(ctx, opts.MetricsURL, opts.GCWait, log)
	if err != nil {
		return Summary{}, err
	}
	sum := Summarize(res)
	created := int64(0)
	if res.GMS != nil {
		created = res.GMS.Created
	}
	sum.Server = memoryDelta(before, after, created)
	sum.Server.GCAfter = &gc
	return sum, nil
}

// scrapeAfterGC waits (up to wait) for a garbage collection that starts after now, then reads
// the server metrics. gc reports whether one was seen.
func scrapeAfterGC(ctx context.Context, metricsURL string, wait time.Duration, log *slog.Logger) (map[string]float64, bool, error) {
	start, err := scrape(ctx, metricsURL, gcMetrics)
	if err != nil {
		return nil, false, err
	}
	t0 := float64(time.Now().UnixNano()) / 1e9
	deadline := time.Now().Add(wait)
	gc := false
	if wait > 0 {
		log.Info("waiting for the server's next garbage collection before reading its memory", "max", wait)
	}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		m, err := scrape(ctx, metricsURL, gcMetrics)
		if err != nil {
			return nil, false, err
		}
		if m["go_gc_duration_seconds_count"] > start["go_gc_duration_seconds_count"] && m["go_memstats_last_gc_time_seconds"] >= t0 {
			gc = true
			break
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	if !gc {
		log.Warn("no garbage collection seen; heap_inuse includes garbage", "waited", wait)
	}
	after, err := scrape(ctx, metricsURL, serverMetrics)
	return after, gc, err
}
