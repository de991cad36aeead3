package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/bayeux"
	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/jetstore"
	"github.com/chatgate/chatgate/chatcore/routing"
	"github.com/chatgate/chatgate/internal/config"
	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/web"
	"github.com/chatgate/chatgate/web/adminauth"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
	"github.com/chatgate/chatgate/web/chatmetrics"
	"github.com/chatgate/chatgate/web/chatoptions"
	"github.com/chatgate/chatgate/web/feed"
	"github.com/chatgate/chatgate/web/gmschat"
	"github.com/chatgate/chatgate/web/openapi"
	"github.com/chatgate/chatgate/web/pushlink"
	"github.com/chatgate/chatgate/web/workflow"
)

// PushAckPath is where push receivers acknowledge reliable notifications.
const PushAckPath = "/genesys/2/chat-push/ack"

// WorkflowPrefix is where the workflow API is mounted (docs/workflow.md).
const WorkflowPrefix = "/workflow/v1"

// chatParts are the chat core on its JetStream store, the GMS adapter that serves it over
// REST and CometD, and the push link that wakes customers who are not connected.
type chatParts struct {
	log     *slog.Logger
	core    *chatcore.Core
	adapter *gmschat.Adapter
	// positions adds the router's queue positions to refresh answers (set by the agent
	// wiring once the router runs).
	positions *gmschat.PositionBackend
	link      *pushlink.Link
	metrics   *chatmetrics.Metrics
	hooks     *feed.Webhooks
	feedAPI   *feed.API
	// opts are the live chat options: the file's, with the admin API's overrides on top
	// (web/chatoptions); applyOptions, once the core runs, applies a change to it and to
	// routingReload.
	opts         *chatoptions.Live
	applyOptions atomic.Pointer[func()]
	// routingReload, when set (by the agent wiring), gets the routing settings after a
	// successful reload.
	routingReload atomic.Pointer[func(routing.Settings)]
	stopHUP       func()
	hupDone       chan struct{}
	stopSweep     func() // the stuck strategy and retention (sweep.go)
	// accounts are the agent, supervisor and bot accounts: opened here because the workflow
	// API adds bots by account; the agent wiring uses the same store.
	accounts *accounts.Store
	// idem holds the Idempotency-Key records of the workflow API and the agent API.
	idem jetstream.KeyValue
}

// chatDeps is what startChat builds on: the configuration (and the file it came from, for
// SIGHUP reloads), the logger, the store connection, and the parts started before it.
type chatDeps struct {
	cfg        config.Config
	configFile string
	log        *slog.Logger
	conn       *natsserver.Conn
	surface    *web.Server
	bayeux     *bayeux.Server
	push       *pushParts
	auth       *adminauth.Credentials
}

// startChat opens the chat store, loads every chat (firing timers that fell due while the
// server was down, once the listeners are attached), mounts the GMS Chat API v2, the
// /service/chatV2/* handler and the workflow API (behind auth), and reloads chat options
// from configFile on SIGHUP.
func startChat(ctx context.Context, d chatDeps) (*chatParts, error) {
	cfg, configFile, conn, surface, bx, pp, auth := d.cfg, d.configFile, d.conn, d.surface, d.bayeux, d.push, d.auth
	log := d.log.With("component", "chat")
	okv, err := chatoptions.OpenBucket(ctx, conn.JS, conn.Replicas())
	if err != nil {
		return nil, err
	}
	p := &chatParts{log: log}
	// Options changed by SIGHUP or by any node's admin API reach the core and the router
	// once both run (before, they read the options when they start).
	opts, err := chatoptions.Open(ctx, chatoptions.Config{KV: okv, File: cfg.Chat, Logger: log.With("component", "chatoptions"),
		OnChange: func() {
			if f := p.applyOptions.Load(); f != nil {
				(*f)()
			}
		}})
	if err != nil {
		return nil, err
	}
	p.opts = opts
	limits := chatLimits(cfg)
	store, err := jetstore.Open(ctx, conn, jetstore.Options{
		Logger:             log,
		MaxTranscriptBytes: cfg.StoreMaxTranscriptBytes,
		MaxStateBytes:      cfg.StoreMaxStateBytes,
		MaxFileBytes:       cfg.StoreMaxFileBytes,
		MaxRecordsPerChat:  int64(limits.MaxEvents) + chatcore.SystemEventReserve,
	})
	if err != nil {
		opts.Close()
		return nil, fmt.Errorf("chat store: %w", err)
	}

	services := cfg.Services
	backend, chats := &gmschat.CoreBackend{}, &pushlink.CoreChats{}
	p.positions = gmschat.NewPositionBackend(backend)
	adapter := gmschat.NewAdapter(p.positions, bx, gmschat.Options{
		Logger: log,
		Services: func(name string) bool {
			return len(services) == 0 || slices.Contains(services, name)
		},
	})
	p.adapter = adapter
	templates := pushlink.DefaultTemplates()
	if cfg.PushTemplates != "" {
		b, err := os.ReadFile(cfg.PushTemplates)
		if err == nil {
			templates, err = pushlink.ParseTemplates(b)
		}
		if err != nil {
			opts.Close()
			return nil, fmt.Errorf("%w: push-templates %s: %w", config.ErrInvalid, cfg.PushTemplates, err)
		}
	}
	if p.link, err = pushlink.New(pushlink.Config{
		Sender:    pp.dispatcher,
		Chats:     chats,
		Presence:  adapter,
		Templates: templates,
		Settings: func(service string) pushlink.Settings {
			s := pushlink.SettingsFromOptions(opts.Options(service))
			s.ToActiveClient = cfg.PushToActiveClient
			return s
		},
		Logger: log.With("component", "pushlink"),
	}); err != nil {
		opts.Close()
		return nil, fmt.Errorf("push link: %w", err)
	}

	if p.core, err = chatcore.New(ctx, chatcore.Config{
		Store: store, Logger: log, Options: opts, Liveness: p.link, NodeName: cfg.Node(),
		Limits: limits, DeferTimers: true,
	}); err != nil {
		p.link.Close()
		opts.Close()
		return nil, fmt.Errorf("chat core: %w", err)
	}
	backend.Core, chats.Core = p.core, p.core

	// One listener: every committed event goes to the attached CometD sessions and to push.
	lctx := context.WithoutCancel(ctx)
	p.core.AddListener(chatcore.ListenerFuncs{Event: func(v chatcore.ChatView, ev chatcore.Event) {
		if !ev.VisibleTo(chatcore.Client) {
			return // coaching (INT) and monitoring (VIP) never reach the customer
		}
		adapter.OnEvent(lctx, v.ID, v.Alias, v.Ended, gmschat.WireEvent(ev))
		p.link.HandleEvent(lctx, v.ID, pushlink.EventFromCore(ev))
	}})
	bx.HandleService(gmschat.ServicePattern, func(ctx context.Context, req *bayeux.ServiceRequest) error {
		adapter.HandleComet(ctx, req.Session.ID, req.Channel, req.Data)
		return nil
	})
	bx.OnConnect(func(ctx context.Context, info bayeux.SessionInfo) { adapter.Touch(ctx, info.ID) })
	bx.OnSessionRemoved(func(info bayeux.SessionInfo, _ bayeux.RemoveReason, ext json.RawMessage) {
		adapter.SessionRemoved(info.ID, ext)
	})
	adapter.Register(surface)
	surface.Handle("POST "+PushAckPath, p.link.AckHandler())
	idem, err := conn.KV(ctx, jetstream.KeyValueConfig{
		Bucket: workflow.IdempotencyBucket, Description: "workflow and agent API Idempotency-Key answers", TTL: cfg.WorkflowIdempotencyTTL,
		Storage: jetstream.FileStorage, MaxBytes: 64 << 20,
	})
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("workflow idempotency bucket: %w", err)
	}
	if p.accounts, err = accounts.Open(ctx, accounts.Config{KV: conn, SessionTTL: cfg.AgentSessionTTL}); err != nil {
		p.stop()
		return nil, fmt.Errorf("accounts: %w", err)
	}
	p.idem = idem
	wf, err := workflow.New(workflow.Config{Chats: p.core, Ops: p.core, Bots: p.accounts, Idempotency: idem, Auth: auth, Logger: log}) // the core logs each restoration
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("workflow API: %w", err)
	}
	surface.Handle(WorkflowPrefix+"/", http.StripPrefix(WorkflowPrefix, wf))
	oh, err := chatoptions.Handler(chatoptions.HandlerConfig{Live: opts, Auth: auth, Services: services})
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("chat options API: %w", err)
	}
	surface.Handle(chatoptions.Prefix+"/", http.StripPrefix(chatoptions.Prefix, oh))
	surface.Handle(openapi.Prefix, openapi.Handler()) // the OpenAPI documents of these APIs
	if err := p.startFeed(ctx, d); err != nil {
		p.stop()
		return nil, err
	}
	// Before StartTimers, so the timers that fell due while the server was down are counted.
	p.metrics = chatmetrics.New(chatmetrics.Config{Core: p.core, Pushes: p.link.Stats, Logger: log})
	if err := surface.Registry().Register(p.metrics); err != nil {
		p.stop()
		return nil, fmt.Errorf("chat metrics: %w", err)
	}
	if err := surface.Registry().Register(web.NewChatCoreCollector(chatCoreStats(p.core, store, log))); err != nil {
		p.stop()
		return nil, fmt.Errorf("chat core metrics: %w", err)
	}
	apply := func() {
		p.core.OptionsChanged()
		if f := p.routingReload.Load(); f != nil {
			(*f)(p.opts.Routing())
		}
	}
	p.applyOptions.Store(&apply)
	p.core.StartTimers()
	if p.stopSweep, err = startSweep(cfg, p.core, surface.Registry(), log); err != nil {
		p.stop()
		return nil, fmt.Errorf("retention: %w", err)
	}

	if configFile != "" {
		p.watchHUP(configFile)
	}
	warnFlexVsBayeux(log, cfg, opts)
	log.Info("chat core ready", "chats", len(p.core.ChatIDs()), "services", servicesText(services))
	return p, nil
}

// chatCoreStats reads the core's counters and the store's usage for a metrics scrape.
func chatCoreStats(core *chatcore.Core, store *jetstore.Store, log *slog.Logger) func() web.ChatCoreStats {
	return func() web.ChatCoreStats {
		cs := core.Stats()
		out := web.ChatCoreStats{
			ChatsInMemory: cs.ChatsInMemory,
			Refusals:      map[string]uint64{"transcript_full": cs.TranscriptFull, "event_rate": cs.RateLimited, "userdata": cs.UserDataRefused},
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		u, err := store.Usage(ctx)
		if err != nil {
			log.Warn("metrics: store usage not readable", "err", err)
		}
		out.StoreOK = err == nil
		out.StoreBytes = map[string]uint64{"transcripts": u.TranscriptBytes, "states": u.StateBytes, "files": u.FileBytes}
		out.StoreQuotaBytes = map[string]int64{"transcripts": u.MaxTranscriptBytes, "states": u.MaxStateBytes, "files": u.MaxFileBytes}
		out.StoreQuotaRefusals = u.QuotaRefusals
		return out
	}
}

// chatLimits are the chat core's per-chat limits from the configuration.
func chatLimits(cfg config.Config) chatcore.Limits {
	return chatcore.Limits{
		MaxEvents: cfg.ChatMaxEvents, MaxTranscriptBytes: cfg.ChatMaxTranscriptBytes,
		EventRate: float64(cfg.ChatEventRate), EventBurst: cfg.ChatEventBurst,
		MaxUserDataBytes: cfg.ChatMaxUserDataBytes, MaxUserDataKeys: cfg.ChatMaxUserDataKeys,
		MaxUserDataVal: cfg.ChatMaxUserDataValue,
	}
}

// warnFlexVsBayeux warns when a CometD customer could be removed while connected: protocol
// activity is recorded when a /meta/connect arrives, so a held connect longer than
// flex-disconnect-timeout looks like silence to the chat core.
func warnFlexVsBayeux(log *slog.Logger, cfg config.Config, opts *chatoptions.Live) {
	opts.Each(func(svc string, o chatcore.Options) {
		scope := "chat"
		if svc != "" {
			scope = "chat." + svc
		}
		if fd := o.Settings.FlexDisconnectTimeout; cfg.BayeuxTimeout >= fd {
			log.Warn("bayeux-timeout is not shorter than flex-disconnect-timeout: connected CometD customers may be removed as silent",
				"scope", scope, "bayeux_timeout", cfg.BayeuxTimeout, "flex_disconnect_timeout", fd)
		}
	})
}

func servicesText(s []string) string {
	if len(s) == 0 {
		return "any"
	}
	return fmt.Sprint(s)
}

// watchHUP re-reads the chat options of the config file on SIGHUP. A file with errors is
// refused as a whole and the running options stay.
func (p *chatParts) watchHUP(path string) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	stop := make(chan struct{})
	p.hupDone = make(chan struct{})
	var once sync.Once
	p.stopHUP = func() {
		once.Do(func() {
			signal.Stop(hup)
			close(stop)
			<-p.hupDone
		})
	}
	go func() {
		defer close(p.hupDone)
		for {
			select {
			case <-stop:
				return
			case <-hup:
				if err := p.reloadOptions(path); err != nil {
					p.log.Error("chat options not reloaded; the running ones stay", "path", path, "err", err)
					continue
				}
				p.log.Info("chat options reloaded", "path", path)
			}
		}
	}()
}

func (p *chatParts) reloadOptions(path string) error {
	raw, err := config.LoadChatOptions(path)
	if err != nil {
		return err
	}
	// The file layer only: the admin API's overrides stay on top (docs/configuration.md).
	return p.opts.ReloadFile(raw)
}

// stop ends the option watcher and the core's timers. The store connection is closed by
// the caller (it is shared).
func (p *chatParts) stop() {
	if p.stopSweep != nil {
		p.stopSweep()
	}
	if p.stopHUP != nil {
		p.stopHUP()
	}
	if p.hooks != nil {
		p.hooks.Close()
	}
	if p.metrics != nil {
		p.metrics.Close()
	}
	if p.opts != nil {
		p.opts.Close() // no option change reaches the core from here on
	}
	if p.core != nil {
		p.core.Close()
	}
	if p.link != nil {
		p.link.Close()
	}
}

// FeedEventsPath is the event stream; it, the export and the summaries are registered apart
// from the rest of the feed API because they are long-lived: no request-timeout
// (web.StreamPaths).
const (
	FeedEventsPath    = WorkflowPrefix + "/feed/events"
	FeedExportPath    = WorkflowPrefix + "/feed/export"
	FeedSummariesPath = WorkflowPrefix + "/feed/summaries"
)

// startFeed records every committed event and property change in the FEED stream (a core
// listener, added before the timers start so what fell due while the server was down is
// recorded) and serves it below /workflow/v1/feed/ with the workflow API's credentials.
func (p *chatParts) startFeed(ctx context.Context, d chatDeps) error {
	cfg := d.cfg
	f, err := feed.Open(ctx, feed.Config{
		JS: d.conn.JS, Replicas: d.conn.Replicas(), MaxAge: cfg.FeedMaxAge, MaxBytes: cfg.FeedMaxBytes,
		Logger: p.log.With("component", "feed"),
	})
	if err != nil {
		return fmt.Errorf("event feed: %w", err)
	}
	p.core.AddListener(f)
	// Nothing commits yet (timers deferred, HTTP not serving): recover the records a crash
	// between commit and listener left out, in each chat's order.
	bf, err := f.Backfill(ctx, p.core)
	if err != nil {
		return fmt.Errorf("event feed backfill: %w", err)
	}
	if bf.Events > 0 {
		p.log.Warn("event feed: recorded events a crash had left out", "chats", bf.Chats, "events", bf.Events)
	}
	if p.hooks, err = feed.OpenWebhooks(ctx, feed.WebhookConfig{
		Feed: f, Replicas: d.conn.Replicas(), MaxAttempts: cfg.WebhookMaxAttempts,
		BackoffBase: cfg.WebhookBackoff, BackoffMax: cfg.WebhookBackoffMax, Timeout: cfg.WebhookTimeout,
		Logger: p.log.With("component", "webhooks"),
	}); err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	if p.feedAPI, err = feed.Handler(feed.APIConfig{
		Feed: f, Webhooks: p.hooks, Auth: d.auth, Heartbeat: cfg.FeedHeartbeat, Logger: p.log.With("component", "feed"),
	}); err != nil {
		return fmt.Errorf("feed API: %w", err)
	}
	if err := d.surface.Registry().Register(feed.NewMetrics(f, p.hooks, p.feedAPI)); err != nil {
		return fmt.Errorf("feed metrics: %w", err)
	}
	h := http.StripPrefix(WorkflowPrefix, p.feedAPI)
	d.surface.Handle(WorkflowPrefix+"/feed/", h)
	for _, p := range []string{FeedEventsPath, FeedExportPath, FeedSummariesPath} {
		d.surface.Handle("GET "+p, h)
	}
	return nil
}

// closeStreams ends the open feed event streams (before the HTTP server's shutdown, which
// would wait for them).
func (p *chatParts) closeStreams() {
	if p.feedAPI != nil {
		p.feedAPI.CloseStreams()
	}
}
