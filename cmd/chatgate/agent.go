package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/chatgate/chatgate/bayeux"
	"github.com/chatgate/chatgate/chatcore/routing"
	"github.com/chatgate/chatgate/internal/config"
	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/web"
	"github.com/chatgate/chatgate/web/adminauth"
	"github.com/chatgate/chatgate/web/agentapi"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
	"github.com/chatgate/chatgate/web/agentapi/responses"
	"github.com/chatgate/chatgate/web/gmschat"
)

// AccountsAdminPrefix is where the account administration API is mounted.
const AccountsAdminPrefix = "/admin/accounts"

// ResponsesAdminPrefix is where the standard responses administration API is mounted.
const ResponsesAdminPrefix = "/admin/responses"

// agentParts are the routing engine and the agent API on the chat core.
type agentParts struct {
	router *routing.Router
	api    *agentapi.API
}

// stop ends the grace timers and the router (both call the core, so before it stops).
func (p *agentParts) stop() {
	if p.api != nil {
		p.api.Close()
	}
	if p.router != nil {
		p.router.Close()
	}
}

// startAgent opens the accounts, starts the router (chatcore/routing, configured by the
// routing section of the chat options; a SIGHUP reload hands it the services again) and builds the agent API on the chat core, and mounts it: REST under
// /agent/v1, the account admin API under /admin/accounts (admin credentials), the CometD
// service channel /service/agent and the session hooks, and the standard responses (KV
// CHATGATE_RESPONSES) with their admin API under /admin/responses; policy (given to the Bayeux server
// at its construction) is bound to it.
func startAgent(ctx context.Context, cfg config.Config, log *slog.Logger, store *natsserver.Conn, surface *web.Server,
	bx *bayeux.Server, chat *chatParts, auth *adminauth.Credentials, policy *agentapi.Policy) (*agentParts, error) {
	log = log.With("component", "agent")
	as := chat.accounts // opened by startChat (the workflow API adds bots by account)
	kv, err := routing.OpenBucket(ctx, store, store.Replicas())
	if err != nil {
		return nil, fmt.Errorf("routing: %w", err)
	}
	rs, err := responses.Open(ctx, responses.Config{KV: store})
	if err != nil {
		return nil, fmt.Errorf("standard responses: %w", err)
	}
	p := &agentParts{}
	rcfg := routing.Config{Core: chat.core, KV: kv, Logger: log}
	chat.opts.Routing().Apply(&rcfg) // the routing section of the chat options
	if p.router, err = routing.New(ctx, rcfg); err != nil {
		return nil, fmt.Errorf("routing: %w", err)
	}
	router := p.router
	reload := func(s routing.Settings) { router.SetServices(s.Services, s.Default) }
	chat.routingReload.Store(&reload)
	surface.Registry().MustRegister(routing.NewCollector(p.router))
	chat.positions.SetPositions(routerPositions{router})
	if p.api, err = agentapi.New(ctx, agentapi.Config{
		Chats: chat.core, Accounts: as, KV: store, Sessions: bx, Logger: log, Router: p.router,
		DisconnectGrace: cfg.AgentDisconnectGrace, LoginPerMinute: cfg.AgentLoginPerMinute,
		MaxConnections: cfg.AgentMaxConnections, Responses: rs, Idempotency: chat.idem,
	}); err != nil {
		p.stop()
		return nil, fmt.Errorf("agent API: %w", err)
	}
	api := p.api
	surface.Registry().MustRegister(agentapi.NewCollector(api))
	p.router.SetSink(api)
	chat.core.AddListener(api)
	policy.Bind(api)
	bx.HandleService(agentapi.ServiceChannel, api.HandleService)
	bx.OnSessionAdded(func(info bayeux.SessionInfo) { api.SessionAdded(context.Background(), info) })
	bx.OnSessionRemoved(func(info bayeux.SessionInfo, _ bayeux.RemoveReason, _ json.RawMessage) { api.SessionRemoved(info) })
	bx.OnSubscription(api.Subscription)
	surface.Handle(agentapi.Prefix+"/", http.StripPrefix(agentapi.Prefix, api.Handler()))
	surface.Handle(AccountsAdminPrefix+"/", http.StripPrefix(AccountsAdminPrefix, accounts.AdminHandler(as, auth)))
	surface.Handle(ResponsesAdminPrefix+"/", http.StripPrefix(ResponsesAdminPrefix, responses.AdminHandler(rs, auth)))
	return p, nil
}

// routerPositions gives the GMS refresh answer the router's queue positions
// (gmschat.QueuePositions; gmschat does not know the router).
type routerPositions struct{ r *routing.Router }

func (rp routerPositions) QueuePosition(chatID string) (gmschat.QueuePosition, bool) {
	pos, err := rp.r.Position(chatID)
	if err != nil {
		return gmschat.QueuePosition{}, false
	}
	return gmschat.QueuePosition{
		Queue: pos.Queue, Position: pos.Position, Offered: pos.Offered, Waiting: pos.Waiting,
		EstimatedWait: pos.EstimatedWait, EstimateKnown: pos.EstimateKnown,
	}, true
}
