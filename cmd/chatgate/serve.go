package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/chatgate/chatgate/internal/config"
	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/web"
)

// serve runs chatgate until ctx is cancelled, then shuts down gracefully and returns. If
// listening is not nil it is called with the bound address once the listener is open.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, listening func(net.Addr)) (err error) {
	// 1. Store: embedded NATS JetStream under cfg.Data, or an external cluster.
	store, err := natsserver.Start(ctx, natsserver.Options{
		DataDir:     cfg.Data,
		Sync:        natsserver.SyncPolicy(cfg.StoreSync),
		ExternalURL: cfg.NATSURL,
		Logger:      slog.New(demoteInfo{log.Handler()}),
	})
	if err != nil {
		return fmt.Errorf("start store: %w", err)
	}
	defer func() {
		// Last step of shutdown: flush and close the store, bounded by its own deadline so a
		// wedged drain cannot hang the process.
		cctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if cerr := store.Close(cctx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
		}
	}()

	// 2. HTTP surface.
	surface := web.NewServer(web.ServerOptions{
		Logger: log.With("component", "http"),
		Ready:  web.ReadyFunc(store.Ping),
	})

	// 3. Listen and serve.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	httpSrv := &http.Server{
		Handler:           surface,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		// No WriteTimeout: it would cut Bayeux long-polls, which are held for bayeux-timeout.
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "data", cfg.Data, "store", storeKind(store))
	if listening != nil {
		listening(ln.Addr())
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	}
	return shutdown(cfg, log, surface, httpSrv, serveErr)
}

// shutdown stops serving in the order that loses nothing.
func shutdown(cfg config.Config, log *slog.Logger, surface *web.Server, httpSrv *http.Server, serveErr <-chan error) error {
	surface.StartDraining()
	if cfg.ShutdownDelay > 0 {
		log.Info("draining: readyz reports not ready", "delay", cfg.ShutdownDelay)
		t := time.NewTimer(cfg.ShutdownDelay)
		<-t.C
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := httpSrv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		_ = httpSrv.Close()
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("http server: %w", err))
	}
	return errors.Join(errs...)
}

func storeKind(c *natsserver.Conn) string {
	if c.Embedded() {
		return "embedded"
	}
	return "external"
}
