package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/sweep"
	"github.com/chatgate/chatgate/internal/config"
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
// the pass in progress. Nothing runs with stuck-strategy off and retention 0.
func startSweep(cfg config.Config, core *chatcore.Core, log *slog.Logger) (stop func()) {
	strategy, _ := sweep.ParseStrategy(cfg.StuckStrategy) // checked by checkSweep
	s := sweep.New(sweep.Config{
		Core: core, Clock: chatcore.RealClock{}, Strategy: strategy, Retention: cfg.Retention,
		Interval: cfg.SweepInterval, Logger: log.With("component", "sweep"),
	})
	if !s.Enabled() {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	log.Info("sweep running", "stuck_strategy", string(strategy), "retention", cfg.Retention.String(), "interval", cfg.SweepInterval.String())
	return func() { cancel(); <-done }
}
