package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/chatgate/chatgate/web/adminauth"
	"github.com/chatgate/chatgate/web/audit"

	"github.com/chatgate/chatgate/internal/config"
	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/push"
	"github.com/chatgate/chatgate/push/credstore"
	"github.com/chatgate/chatgate/web"
	"github.com/chatgate/chatgate/web/pushadmin"
	"github.com/chatgate/chatgate/web/pushlink"
)

// PushAdminPrefix is where the push credentials admin API is mounted.
const PushAdminPrefix = "/admin/push"

// VAPIDKeyPath serves the Web Push application server key to browsers (public, under CORS
// like the rest of /genesys/2/).
const VAPIDKeyPath = "/genesys/2/chat-push/vapid"

// pushParts is the push dispatcher with its provider registry and, when secrets-key is set,
// the encrypted credential store whose watch keeps the registry current on every node.
type pushParts struct {
	registry   *push.Registry
	dispatcher *push.Dispatcher
	creds      *credstore.Store // nil without secrets-key
	watch      *credstore.Watch // nil without secrets-key
}

// startPush builds the dispatcher and, with secrets-key, loads stored credentials and mounts
// the admin API at /admin/push/ behind auth (the admin credentials, shared with the workflow
// API).
func startPush(ctx context.Context, cfg config.Config, log *slog.Logger, store *natsserver.Conn, surface *web.Server, auth *adminauth.Credentials) (*pushParts, error) {
	log = log.With("component", "push")
	// The allow-list of Web Push endpoint hosts: the browsers' push services plus what the
	// operator adds (push-webpush-allowed-hosts), never fewer.
	hosts := append(slices.Clone(push.DefaultWebPushHosts), cfg.PushWebPushAllowedHosts...)
	p := &pushParts{registry: push.NewRegistry(push.RegistryOptions{Logger: log, WebPushHosts: hosts})}
	conc := map[push.Kind]int{}
	for _, k := range []push.Kind{push.KindWebPush, push.KindAPNs, push.KindFCM, push.KindHTTP} {
		conc[k] = cfg.PushConcurrency
	}
	var err error
	p.dispatcher, err = push.New(push.Config{
		Resolver:    p.registry,
		Logger:      log,
		QueueSize:   cfg.PushQueueSize,
		Concurrency: conc,
	})
	if err != nil {
		_ = p.registry.Close()
		return nil, fmt.Errorf("push dispatcher: %w", err)
	}
	if err := surface.Registry().Register(p.dispatcher.Collector()); err != nil {
		return nil, errors.Join(fmt.Errorf("push metrics: %w", err), p.stop(ctx))
	}

	surface.Handle("GET "+VAPIDKeyPath, pushlink.VAPIDKeyHandler(p.registry))

	key := cfg.SecretsKeyBytes()
	if key == nil {
		log.Warn("secrets-key is not set: push credentials cannot be stored, so the push admin API is off")
		surface.Handle(PushAdminPrefix+"/", http.StripPrefix(PushAdminPrefix,
			pushadmin.Off(auth, "secrets-key is not set: push credentials cannot be stored on this server")))
		return p, nil
	}
	if p.creds, err = credstore.Open(ctx, store, key, log); err != nil {
		return nil, errors.Join(fmt.Errorf("push credentials: %w", err), p.stop(ctx))
	}
	if p.watch, err = p.creds.Watch(ctx, p.registry); err != nil {
		return nil, errors.Join(fmt.Errorf("push credentials watch: %w", err), p.stop(ctx))
	}
	h, err := pushadmin.New(pushadmin.Config{
		Store:    p.creds,
		Registry: p.registry,
		Stats:    p.dispatcher.Stats,
		Auth:     auth,
		Logger:   log,
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("push admin API: %w", err), p.stop(ctx))
	}
	surface.Handle(PushAdminPrefix+"/", http.StripPrefix(PushAdminPrefix, h))
	return p, nil
}

// stop ends the credential watch, lets queued sends finish until ctx ends, and closes the
// provider connections.
func (p *pushParts) stop(ctx context.Context) error {
	if p.watch != nil {
		p.watch.Stop()
	}
	var errs []error
	if p.dispatcher != nil {
		if err := p.dispatcher.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("push dispatcher: %w", err))
		}
	}
	if err := p.registry.Close(); err != nil {
		errs = append(errs, fmt.Errorf("push registry: %w", err))
	}
	return errors.Join(errs...)
}

// AuditPath is where the audit log of admin changes is read (web/audit).
const AuditPath = "/admin/audit"

// adminCredentials are admin-token and/or admin-user/admin-password; with neither, the
// cluster's first-run token (generated and printed once, see web/adminauth). serve builds
// them once for every admin surface (push admin API, workflow API).
func adminCredentials(ctx context.Context, cfg config.Config, log *slog.Logger, store *natsserver.Conn, surface *web.Server) (*adminauth.Credentials, error) {
	var err error
	o := adminauth.Options{Token: cfg.AdminToken.Reveal(), BasicUser: cfg.AdminUser, BasicPassword: cfg.AdminPassword.Reveal()}
	if o.Token == "" && o.BasicUser == "" {
		hash, token, err := adminauth.FirstRunToken(ctx, store, store.Replicas())
		if err != nil {
			return nil, fmt.Errorf("admin first-run token: %w", err)
		}
		if token != "" {
			// Printed this once: only its hash is stored.
			log.Warn("generated the first-run admin token; it is shown only now (set admin-token to choose your own)", "admin_token", token)
		} else {
			log.Info("admin API uses the first-run token printed at the first start")
		}
		o.TokenSHA256 = hash
	}
	if o.Sessions, err = adminauth.OpenSessions(ctx, adminauth.SessionsConfig{KV: store, Replicas: store.Replicas()}); err != nil {
		return nil, fmt.Errorf("admin console sessions: %w", err)
	}
	o.Logger = log.With("component", "admin")
	audits, err := audit.Open(ctx, audit.Config{Streams: store, Publisher: store.JS, Logger: log.With("component", "audit")})
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	o.Audit = audits
	auth, err := adminauth.New(o)
	if err != nil {
		return nil, fmt.Errorf("admin credentials: %w", err)
	}
	surface.Registry().MustRegister(audits.Collectors()...)
	surface.Handle(AuditPath, audits.Handler(auth))
	return auth, nil
}
