package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/chatgate/chatgate/bayeux"
	"github.com/chatgate/chatgate/internal/config"
	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/web"
	"github.com/chatgate/chatgate/web/adminauth"
	"github.com/chatgate/chatgate/web/agentapi"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
)

// AccountsAdminPrefix is where the account administration API is mounted.
const AccountsAdminPrefix = "/admin/accounts"

// startAgent opens the accounts, builds the agent API on the chat core and mounts it: REST
// under /agent/v1, the account admin API under /admin/accounts (admin credentials), the
// CometD service channel /service/agent and the session hooks; policy (given to the Bayeux
// server at its construction) is bound to it.
func startAgent(ctx context.Context, cfg config.Config, log *slog.Logger, store *natsserver.Conn, surface *web.Server,
	bx *bayeux.Server, chat *chatParts, auth *adminauth.Credentials, policy *agentapi.Policy) (*agentapi.API, error) {
	log = log.With("component", "agent")
	as, err := accounts.Open(ctx, accounts.Config{KV: store, SessionTTL: cfg.AgentSessionTTL})
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	api, err := agentapi.New(ctx, agentapi.Config{
		Chats: chat.core, Accounts: as, KV: store, Sessions: bx, Logger: log,
		DisconnectGrace: cfg.AgentDisconnectGrace, LoginPerMinute: cfg.AgentLoginPerMinute,
	})
	if err != nil {
		return nil, fmt.Errorf("agent API: %w", err)
	}
	chat.core.AddListener(api)
	policy.Bind(api)
	bx.HandleService(agentapi.ServiceChannel, api.HandleService)
	bx.OnSessionAdded(func(info bayeux.SessionInfo) { api.SessionAdded(context.Background(), info) })
	bx.OnSessionRemoved(func(info bayeux.SessionInfo, _ bayeux.RemoveReason, _ json.RawMessage) { api.SessionRemoved(info) })
	surface.Handle(agentapi.Prefix+"/", http.StripPrefix(agentapi.Prefix, api.Handler()))
	surface.Handle(AccountsAdminPrefix+"/", http.StripPrefix(AccountsAdminPrefix, accounts.AdminHandler(as, auth)))
	return api, nil
}
