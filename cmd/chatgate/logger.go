package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/chatgate/chatgate/internal/config"
)

// newLogger builds the process logger from log-level and log-format.
func newLogger(c config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	if c.LogFmt == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// demoteInfo passes records to h with Info lowered to Debug. The embedded NATS server
// prints a multi-line banner and per-connection notices at its "notice" level; at chatgate's
// info level they drown the lines an operator needs, while its warnings and errors stay.
type demoteInfo struct{ h slog.Handler }

func (d demoteInfo) Enabled(ctx context.Context, l slog.Level) bool {
	if l == slog.LevelInfo {
		l = slog.LevelDebug
	}
	return d.h.Enabled(ctx, l)
}

func (d demoteInfo) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo {
		r.Level = slog.LevelDebug
	}
	return d.h.Handle(ctx, r)
}

func (d demoteInfo) WithAttrs(as []slog.Attr) slog.Handler { return demoteInfo{d.h.WithAttrs(as)} }
func (d demoteInfo) WithGroup(g string) slog.Handler       { return demoteInfo{d.h.WithGroup(g)} }
