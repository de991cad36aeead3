package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/chatgate/chatgate/bayeux"
	"github.com/chatgate/chatgate/internal/config"
	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/web"
	"github.com/chatgate/chatgate/web/agentapi"
	"github.com/chatgate/chatgate/web/gmschat"
	"github.com/nats-io/nats.go"
)

// serve runs chatgate until ctx is cancelled, then shuts down gracefully and returns. If
// listening is not nil it is called with the bound address once the listener is open.
// res.File, if set, is re-read for chat options on SIGHUP.
func serve(ctx context.Context, res config.Result, log *slog.Logger, listening func(net.Addr)) error {
	cfg := res.Config
	// 1. Store: embedded NATS JetStream under cfg.Data, or an external cluster.
	storeOpts := natsserver.Options{
		DataDir:      cfg.Data,
		Sync:         natsserver.SyncPolicy(cfg.StoreSync),
		SyncInterval: cfg.StoreSyncInterval,
		ExternalURL:  cfg.NATSURL,
		Replicas:     cfg.NATSReplicas,
		Logger:       slog.New(demoteInfo{log.Handler()}),
	}
	if cfg.NATSCreds != "" {
		storeOpts.ExternalOptions = append(storeOpts.ExternalOptions, nats.UserCredentials(cfg.NATSCreds))
	}
	store, err := natsserver.Start(ctx, storeOpts)
	if err != nil {
		return fmt.Errorf("start store: %w", err)
	}
	p := &parts{cfg: cfg, log: log, store: store}

	// 2. Bayeux server and HTTP surface.
	agentPolicy := &agentapi.Policy{}
	if p.bayeux, err = newBayeux(cfg, log, agentPolicy); err != nil {
		return errors.Join(fmt.Errorf("bayeux: %w", err), p.stop(false))
	}
	p.surface = web.NewServer(web.ServerOptions{
		Logger:          log.With("component", "http"),
		Ready:           web.ReadyFunc(store.Ready),
		Bayeux:          p.bayeux,
		BodyReadTimeout: cfg.BodyReadTimeout,
		RequestTimeout:  cfg.RequestTimeout,
		TrustedProxies:  cfg.TrustedProxies,
		// One origin policy (allowed-origins, decided by the Bayeux server) for the CORS
		// headers of every browser-facing endpoint.
		AllowOrigin: p.bayeux.AllowsOrigin,
		RateLimits: web.RateLimits{
			ChatCreatesPerMinute: cfg.ChatCreatesPerMinute,
			RESTPerMinute:        cfg.RESTRequestsPerMinute,
			Refused: func(w http.ResponseWriter, _ *http.Request) {
				gmschat.WriteError(w, gmschat.Errorf(gmschat.CodeRateLimited, "too many requests from this address, retry after the Retry-After delay"))
			},
		},
	})
	p.surface.Registry().MustRegister(web.NewBayeuxCollector(bayeuxStats(p.bayeux)))
	mountWidget(p.surface, cfg)

	// 3. Admin credentials (shared by the push admin API and the workflow API), push
	// dispatcher, push credentials and their admin API.
	auth, err := adminCredentials(ctx, cfg, log, store, p.surface)
	if err != nil {
		return errors.Join(err, p.stop(false))
	}
	if p.push, err = startPush(ctx, cfg, log, store, p.surface, auth); err != nil {
		return errors.Join(err, p.stop(false))
	}

	// 4. Chat core, GMS Chat API v2 (REST, CometD service channel, chat-ntf), push link,
	// workflow API.
	if p.chat, err = startChat(ctx, chatDeps{
		cfg: cfg, configFile: res.File, log: log, conn: store,
		surface: p.surface, bayeux: p.bayeux, push: p.push, auth: auth,
	}); err != nil {
		return errors.Join(err, p.stop(false))
	}

	// 5. Agent API (accounts, REST, CometD) on the chat core.
	if p.agent, err = startAgent(ctx, cfg, log, store, p.surface, p.bayeux, p.chat, auth, agentPolicy); err != nil {
		return errors.Join(err, p.stop(false))
	}
	mountConsole(p.surface, p.agent.api, auth)

	// 6. Listen and serve.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return errors.Join(fmt.Errorf("listen: %w", err), p.stop(false))
	}
	nofile := web.OpenFileLimit()
	maxConns := web.ConnectionCap(cfg.MaxConnections, nofile)
	ln = p.surface.LimitListener(ln, maxConns)
	p.http = &http.Server{
		Handler:           p.surface,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		// No WriteTimeout: it would cut Bayeux long-polls, which are held for bayeux-timeout.
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn),
	}
	p.serveErr = make(chan error, 1)
	go func() { p.serveErr <- p.http.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "data", cfg.Data, "store", storeKind(store),
		"max_connections", maxConns, "open_file_limit", nofile)
	if listening != nil {
		listening(ln.Addr())
	}

	select {
	case <-ctx.Done():
		return p.stop(true)
	case err := <-p.serveErr:
		p.serveErr = nil
		return errors.Join(fmt.Errorf("http server: %w", err), p.stop(false))
	}
}

// parts are the running pieces, stopped in reverse order of start.
type parts struct {
	cfg      config.Config
	log      *slog.Logger
	store    *natsserver.Conn
	surface  *web.Server
	bayeux   *bayeux.Server
	push     *pushParts
	chat     *chatParts
	agent    *agentParts
	http     *http.Server
	serveErr chan error // nil when Serve is not running
}

// stop shuts down in the order that loses nothing: readiness off (and, if drain, the
// shutdown delay), HTTP listener closed and in-flight requests finished, push dispatcher
// stopped, store flushed and closed. All steps after the delay share one deadline, shutdown-timeout.
func (p *parts) stop(drain bool) error {
	if p.surface != nil {
		p.surface.StartDraining()
	}
	if drain && p.cfg.ShutdownDelay > 0 {
		p.log.Info("draining: /readyz reports not ready", "delay", p.cfg.ShutdownDelay)
		t := time.NewTimer(p.cfg.ShutdownDelay)
		<-t.C
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if p.bayeux != nil {
		// Before the HTTP server: answers held long-polls and closes websockets, which
		// http.Server.Shutdown would otherwise wait for (or not see at all, once hijacked).
		if err := p.bayeux.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if p.chat != nil {
		p.chat.closeStreams() // held SSE responses, which Shutdown would wait for
	}
	if p.http != nil {
		if err := p.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			_ = p.http.Close()
		}
		if p.serveErr != nil {
			if err := <-p.serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, fmt.Errorf("http server: %w", err))
			}
		}
	}
	if p.agent != nil {
		p.agent.stop() // its grace timers and the router call the core
	}
	if p.chat != nil {
		p.chat.stop() // before push: the core's listener enqueues notifications
	}
	if p.push != nil {
		if err := p.push.stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := p.store.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	return errors.Join(errs...)
}

func storeKind(c *natsserver.Conn) string {
	if c.Embedded() {
		return "embedded"
	}
	return "external"
}
