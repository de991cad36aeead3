package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/sweep"
	"github.com/chatgate/chatgate/internal/config"
	"github.com/chatgate/chatgate/web/feed"
)

// checkSweep applies the sweep package's rule for stuck-strategy (sweep.ParseStrategy, the
// one place the names live) as a configuration error, like checkBayeux.
func checkSweep(cfg config.Config) error {
	if _, err := sweep.ParseStrategy(cfg.StuckStrategy); err != nil {
		return fmt.Errorf("%w: stuck-strategy: %w", config.ErrInvalid, err)
	}
	return nil
}

// startSweep runs the built-in stuck strategy and retention (chatcore/sweep) on the core's
// clock (the wall clock) in a goroutine owned here; the returned func stops it and waits for
// the pass in progress. Nothing runs with stuck-strategy off and retention 0. With
// retention-export-dir, each chat is exported there (web/feed's Archive) before its purge.
func startSweep(cfg config.Config, core *chatcore.Core, reg prometheus.Registerer, log *slog.Logger) (stop func(), err error) {
	strategy, _ := sweep.ParseStrategy(cfg.StuckStrategy) // checked by checkSweep
	scfg := sweep.Config{
		Core: core, Clock: chatcore.RealClock{}, Strategy: strategy, Retention: cfg.Retention,
		Interval: cfg.SweepInterval, Logger: log.With("component", "sweep"),
	}
	if cfg.RetentionExportDir != "" {
		arch, err := feed.NewArchive(feed.ArchiveConfig{Dir: cfg.RetentionExportDir, Chats: core, Logger: log.With("component", "retention-export")})
		if err != nil {
			return nil, err
		}
		scfg.Export = arch
		if cfg.Retention <= 0 {
			log.Warn("retention-export-dir is set but retention is 0: nothing is purged, so nothing is exported", "dir", cfg.RetentionExportDir)
		}
	}
	s := sweep.New(scfg)
	if err := reg.Register(sweep.NewCollector(s)); err != nil {
		return nil, fmt.Errorf("sweep metrics: %w", err)
	}
	if !s.Enabled() {
		return func() {}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	log.Info("sweep running", "stuck_strategy", string(strategy), "retention", cfg.Retention.String(),
		"retention_export_dir", cfg.RetentionExportDir, "interval", cfg.SweepInterval.String())
	return func() { cancel(); <-done }, nil
}
