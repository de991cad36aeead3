package agentapi

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"

	"github.com/chatgate/chatgate/bayeux"
	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
	"github.com/chatgate/chatgate/web/cookieauth"
)

// ServiceChannel is the CometD service channel of agent actions: data is an Action (with
// "action"), the publish reply's data the Answer or an error (see CometReply).
const ServiceChannel = "/service/agent"

// Per-agent channels (subscribe to receive; only the agent's own sessions may).
func channelChat(id string) string     { return "/agent/" + id + "/chat" }
func channelPresence(id string) string { return "/agent/" + id + "/presence" }

// HandshakeTokenKey is the handshake ext key that carries an agent's session or API token:
// {"ext": {"agentToken": "cgs_..."}}.
const HandshakeTokenKey = "agentToken"

// HandshakeCSRFKey is the handshake ext key of a console's handshake: the console has no
// token to put in ext (it is in the HttpOnly session cookie), so it sends the session's CSRF
// token, {"ext": {"agentCsrf": "..."}}, and the handshake is authenticated by the cookie,
// only from a page of this origin.
const HandshakeCSRFKey = "agentCsrf"

// extString reads the string ext[key]; has is false without the key.
func extString(ext json.RawMessage, key string) (v string, has bool) {
	if len(ext) == 0 {
		return "", false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(ext, &m) != nil {
		return "", false
	}
	raw, ok := m[key]
	if !ok {
		return "", false
	}
	if json.Unmarshal(raw, &v) != nil {
		return "", true // present but not a string: refused
	}
	return v, true
}

// cookieSession is the principal a console's handshake keeps with its Bayeux session: the
// session token of its cookie, checked again on every service request like an ext token.
type cookieSession struct{ token string }

// sessionToken is the agent token of a Bayeux session: its handshake's ext token, or the
// cookie's session token of a console's handshake. has is false for a customer's session.
func sessionToken(info bayeux.SessionInfo) (tok string, has bool) {
	if cs, ok := info.Principal.(cookieSession); ok {
		return cs.token, true
	}
	return handshakeToken(info.HandshakeExt)
}

// handshakeToken reads the agent token of a handshake ext; has is false for a handshake
// without one (a customer).
func handshakeToken(ext json.RawMessage) (tok string, has bool) {
	return extString(ext, HandshakeTokenKey)
}

// Policy is the Bayeux server's policy for the agent side: handshakes that carry an agent
// token must carry a valid one; /agent/{id}/** may be subscribed only by id's sessions.
// Handshakes without a token (customers) are let through as before. It is built before the
// API (the Bayeux server is) and bound to it with Bind; until then agent handshakes fail.
type Policy struct{ api atomic.Pointer[API] }

var (
	_ bayeux.Policy                 = (*Policy)(nil)
	_ bayeux.HandshakeAuthenticator = (*Policy)(nil)
)

// Bind attaches the policy to the API.
func (p *Policy) Bind(a *API) { p.api.Store(a) }

// CanHandshake implements bayeux.Policy.
func (p *Policy) CanHandshake(ctx context.Context, info bayeux.HandshakeInfo) bool {
	return p.AuthorizeHandshake(ctx, info) == nil
}

// errHandshakeUnauthorized answers an agent handshake with a missing or bad token.
var errHandshakeUnauthorized = &bayeux.Error{Code: 401, Message: "unauthorized"}

// AuthorizeHandshake is AuthenticateHandshake without the principal.
func (p *Policy) AuthorizeHandshake(ctx context.Context, info bayeux.HandshakeInfo) *bayeux.Error {
	_, err := p.AuthenticateHandshake(ctx, info)
	return err
}

// AuthenticateHandshake implements bayeux.HandshakeAuthenticator: a handshake with an agent
// token in ext must carry a valid one; a console's handshake (HandshakeCSRFKey in ext) must
// come from a page of this origin with a valid session cookie and that session's CSRF
// token, and keeps the cookie's token as its principal. Refusals answer 401::unauthorized.
// A handshake with neither is a customer's and passes.
func (p *Policy) AuthenticateHandshake(ctx context.Context, info bayeux.HandshakeInfo) (any, *bayeux.Error) {
	tok, has := handshakeToken(info.Ext)
	csrf, console := extString(info.Ext, HandshakeCSRFKey)
	if !has && !console {
		return nil, nil
	}
	a := p.api.Load()
	if a == nil {
		return nil, errHandshakeUnauthorized
	}
	var principal any
	if has {
		if tok == "" {
			return nil, errHandshakeUnauthorized
		}
		if _, err := a.cfg.Accounts.Authenticate(ctx, tok); err != nil {
			a.log.Info("agent CometD handshake refused", "remote", info.Remote)
			return nil, errHandshakeUnauthorized
		}
	} else {
		tok = cookieauth.FromHeader(info.Header, cookieauth.StaffCookie)
		switch {
		case tok == "":
			a.log.Info("console CometD handshake refused: no session cookie", "remote", info.Remote)
			return nil, errHandshakeUnauthorized
		case !cookieauth.SameOrigin(info.Header, info.Host):
			a.log.Info("console CometD handshake refused: not from this origin", "remote", info.Remote, "origin", info.Header.Get("Origin"))
			return nil, errHandshakeUnauthorized
		case !cookieauth.ValidToken(tok, csrf):
			a.log.Info("console CometD handshake refused: CSRF token", "remote", info.Remote)
			return nil, errHandshakeUnauthorized
		}
		if _, err := a.authenticateCookie(ctx, tok); err != nil {
			a.log.Info("console CometD handshake refused: session", "remote", info.Remote)
			return nil, errHandshakeUnauthorized
		}
		principal = cookieSession{token: tok}
	}
	a.mu.Lock()
	n := len(a.bySession)
	a.mu.Unlock()
	if n >= a.cfg.MaxConnections {
		a.st.refused.Add(1)
		a.log.Warn("agent CometD handshake refused: node at agent-max-connections", "max", a.cfg.MaxConnections)
		return nil, errTooManyConnections
	}
	return principal, nil
}

// errTooManyConnections answers an agent handshake beyond the node's cap.
var errTooManyConnections = &bayeux.Error{Code: 503, Message: "too_many_agent_connections"}

// CanSubscribe implements bayeux.Policy.
func (p *Policy) CanSubscribe(_ context.Context, s bayeux.SessionInfo, channel string) bool {
	if channel == "/agent" || !strings.HasPrefix(channel, "/agent/") {
		return true
	}
	rest := channel[len("/agent/"):]
	id, _, _ := strings.Cut(rest, "/")
	if id == "*" || id == "**" || id == "" {
		return false
	}
	a := p.api.Load()
	if a == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.bySession[s.ID] != id {
		return false
	}
	if channel == channelBoard(id) {
		// The wall board is for supervisors only: agents and bots get 403 like strangers.
		ag := a.agents[id]
		return ag != nil && ag.acct.Role == accounts.RoleSupervisor
	}
	return true
}

// CanPublish implements bayeux.Policy: no extra broadcast publishes.
func (p *Policy) CanPublish(context.Context, bayeux.SessionInfo, string, json.RawMessage) bool {
	return false
}

// SessionAdded records an agent's Bayeux session (a handshake with a valid agent token).
func (a *API) SessionAdded(ctx context.Context, info bayeux.SessionInfo) {
	tok, has := sessionToken(info)
	if !has {
		return
	}
	pr, err := a.cfg.Accounts.Authenticate(ctx, tok)
	if err != nil {
		return
	}
	a.attachSession(pr.Account, info.ID)
	a.board.touch() // "connected" changed
	// A reconnecting desktop learns the offers still pending for it.
	for _, o := range a.pendingOffers(pr.Account.ID) {
		if a.cfg.Sessions != nil {
			_ = a.cfg.Sessions.Deliver(ctx, info.ID, channelOffers(pr.Account.ID), o)
		}
	}
}

// SessionRemoved forgets a removed Bayeux session (see detachSession for the grace rule).
func (a *API) SessionRemoved(info bayeux.SessionInfo) {
	a.board.unsubscribe(info.ID)
	a.detachSession(info.ID)
	a.board.touch()
}

// CometReply is the data of a /service/agent publish reply.
type CometReply struct {
	OK bool `json:"ok"`
	Answer
	Status int    `json:"status,omitempty"`
	Code   string `json:"code,omitempty"`
	Error  string `json:"error,omitempty"`
}

// HandleService serves /service/agent: the same actions as REST and the same reads and
// logout (Query; the reply's data is {"ok":true, ...the REST answer's fields}),
// authenticated by the session's handshake token (checked again on each request, so a
// revoked token stops at once).
func (a *API) HandleService(ctx context.Context, req *bayeux.ServiceRequest) error {
	fail := func(err error) error {
		status, code := statusOf(err)
		msg := err.Error()
		if status == 503 {
			msg = "service unavailable, retry"
		}
		return req.Reply(CometReply{Status: status, Code: code, Error: msg})
	}
	tok, has := sessionToken(req.Session)
	if !has {
		return fail(errorf(ErrUnauthorized, "handshake without %s", HandshakeTokenKey))
	}
	p, err := a.cfg.Accounts.Authenticate(ctx, tok)
	if err != nil {
		return fail(errorf(ErrUnauthorized, "token not accepted"))
	}
	if int64(len(req.Data)) > a.cfg.MaxBody {
		return fail(errorf(ErrInvalid, "request too large"))
	}
	if q, ok := queryOf(req.Data); ok {
		res, _, err := a.query(ctx, p, tok, q)
		if err != nil {
			return fail(err)
		}
		res["ok"] = true
		return req.Reply(res)
	}
	var act Action
	if err := json.Unmarshal(req.Data, &act); err != nil {
		return fail(errorf(ErrInvalid, "data must be an action object"))
	}
	ans, err := a.Do(ctx, p, act)
	if err != nil {
		return fail(err)
	}
	return req.Reply(CometReply{OK: true, Answer: ans})
}

// ChatMessage is what /agent/{id}/chat carries: one committed event (as the agent sees it)
// or a property change, with the chat as it is now.
type ChatMessage struct {
	ChatID     string            `json:"chatId"`
	Event      *Event            `json:"event,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
	Chat       ChatInfo          `json:"chat"`
}

// recipients are the staff a chat's event goes to: present non-customers, plus the sender
// of a ParticipantLeft (so a desktop learns it left).
func recipients(v chatcore.ChatView, ev *chatcore.Event) map[string]chatcore.ParticipantType {
	out := map[string]chatcore.ParticipantType{}
	for _, p := range v.Participants {
		if p.Present && p.Type != chatcore.Client {
			out[p.UserID] = p.Type
		}
	}
	if ev != nil && ev.Type == chatcore.EventParticipantLeft && ev.From.Type != chatcore.Client {
		out[ev.From.UserID] = ev.From.Type
	}
	return out
}

func roleOf(t chatcore.ParticipantType) accounts.Role {
	switch t {
	case chatcore.Supervisor:
		return accounts.RoleSupervisor
	case chatcore.External:
		return accounts.RoleBot
	}
	return accounts.RoleAgent
}

// OnEvent is the core listener's event side: it keeps the staff index and sends the event
// to every agent, supervisor and bot of the chat that may see it.
func (a *API) OnEvent(v chatcore.ChatView, ev chatcore.Event) {
	a.indexChat(v)
	a.board.countEvent(a.cfg.QueueOf(v.Service), ev)
	a.board.touch()
	if ev.Index == 1 {
		a.recordContact(v) // the chat's creation
	}
	if a.cfg.Sessions == nil {
		return
	}
	ctx := context.Background()
	for id, typ := range recipients(v, &ev) {
		if !ev.VisibleTo(typ) {
			continue
		}
		we := wireEvent(ev)
		acct := accounts.Account{ID: id, Role: roleOf(typ)}
		a.deliverTo(ctx, id, channelChat(id), ChatMessage{ChatID: v.ID, Event: &we, Chat: a.info(v, acct, false, false, false)})
	}
}

// OnProperties is the core listener's property side (GCTI_Chat_AsyncStatus, ...).
func (a *API) OnProperties(v chatcore.ChatView, changed map[string]string) {
	a.indexChat(v)
	a.board.touch()
	if a.cfg.Sessions == nil {
		return
	}
	ctx := context.Background()
	for id, typ := range recipients(v, nil) {
		acct := accounts.Account{ID: id, Role: roleOf(typ)}
		a.deliverTo(ctx, id, channelChat(id), ChatMessage{ChatID: v.ID, Properties: changed, Chat: a.info(v, acct, false, false, false)})
	}
}

// deliverTo sends data to every Bayeux session of an account.
func (a *API) deliverTo(ctx context.Context, accountID, channel string, data any) {
	if a.cfg.Sessions == nil {
		return
	}
	for _, sid := range a.sessionsOf(accountID) {
		if err := a.cfg.Sessions.Deliver(ctx, sid, channel, data); err != nil {
			a.log.Debug("agentapi: delivery to a gone session", "agent", accountID, "channel", channel, "err", err)
		}
	}
}
