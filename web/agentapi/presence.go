package agentapi

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/chatgate/chatgate/chatcore/routing"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
)

// State is an agent's presence.
type State string

// States.
const (
	StateReady     State = "ready"
	StateNotReady  State = "not-ready"
	StateLoggedOut State = "logged-out"
)

// MaxReason bounds a not-ready reason.
const MaxReason = 128

// agent is the presence of one account on this node. Guarded by API.mu.
type agent struct {
	acct     accounts.Account
	state    State
	reason   string
	since    time.Time
	sessions map[string]struct{}
	// lost is the grace timer running while the agent has no Bayeux session after having
	// had one; lostGen tells a stale timer from the current one.
	lost    Timer
	lostGen uint64
}

// Presence is an agent's presence as the API shows it.
type Presence struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	Role        string    `json:"role"`
	Queues      []string  `json:"queues,omitempty"`
	Capacity    int       `json:"capacity"`
	State       State     `json:"state"`
	Reason      string    `json:"reason,omitempty"`
	Since       time.Time `json:"since"`
	Connected   bool      `json:"connected"`
	Chats       int       `json:"chats"`
}

// capacity is the account's capacity with its default (1 chat for agents; bots and
// supervisors default to 10).
func capacity(a accounts.Account) int {
	switch {
	case a.Capacity > 0:
		return a.Capacity
	case a.Role == accounts.RoleAgent:
		return 1
	}
	return 10
}

// touch returns the agent's presence entry, creating it logged out, and refreshes the
// account. a.mu held.
func (a *API) touchLocked(acct accounts.Account) *agent {
	ag := a.agents[acct.ID]
	if ag == nil {
		ag = &agent{state: StateLoggedOut, since: a.clock.Now(), sessions: map[string]struct{}{}}
		a.agents[acct.ID] = ag
	}
	ag.acct = acct
	return ag
}

// setState changes an agent's presence and tells its desktops.
func (a *API) setState(ctx context.Context, acct accounts.Account, st State, reason string) (Presence, error) {
	switch st {
	case StateReady, StateLoggedOut:
		reason = ""
	case StateNotReady:
		if len(reason) > MaxReason {
			return Presence{}, errorf(ErrInvalid, "reason over %d bytes", MaxReason)
		}
	default:
		return Presence{}, errorf(ErrInvalid, "state must be ready, not-ready or logged-out")
	}
	if err := a.route(acct, st, reason); err != nil {
		return Presence{}, errorf(ErrUnavailable, "routing: %v", err)
	}
	a.mu.Lock()
	ag := a.touchLocked(acct)
	if ag.state != st || ag.reason != reason {
		ag.state, ag.reason, ag.since = st, reason, a.clock.Now()
	}
	p := a.presenceLocked(acct.ID, ag)
	a.mu.Unlock()
	a.board.touch()
	a.deliverTo(ctx, acct.ID, channelPresence(acct.ID), p)
	return p, nil
}

func (a *API) presenceLocked(id string, ag *agent) Presence {
	n := 0
	for _, m := range a.staff {
		if _, ok := m[id]; ok {
			n++
		}
	}
	return Presence{
		ID: id, DisplayName: ag.acct.DisplayName, Role: string(ag.acct.Role), Queues: slices.Clone(ag.acct.Queues),
		Capacity: capacity(ag.acct), State: ag.state, Reason: ag.reason, Since: ag.since,
		Connected: len(ag.sessions) > 0, Chats: n,
	}
}

// presence returns an account's presence (logged out when never seen).
func (a *API) presence(acct accounts.Account) Presence {
	a.mu.Lock()
	p := a.presenceLocked(acct.ID, a.touchLocked(acct))
	a.mu.Unlock()
	return a.routed(p)
}

// routed takes an agent's state from the router, which may have changed it (an offer that
// timed out makes the agent not-ready with reason "offer-timeout").
func (a *API) routed(p Presence) Presence {
	r, ok := a.cfg.Router.(interface {
		Agent(id string) (routing.AgentStatus, bool)
	})
	if !ok || p.Role != string(accounts.RoleAgent) || p.State == StateLoggedOut {
		return p
	}
	if st, ok := r.Agent(p.ID); ok {
		p.State, p.Reason = State(st.State), st.Reason
	}
	return p
}

// presences lists every agent this node knows, ordered by id.
func (a *API) presences() []Presence {
	a.mu.Lock()
	ids := slices.Sorted(maps.Keys(a.agents))
	out := make([]Presence, 0, len(ids))
	for _, id := range ids {
		out = append(out, a.presenceLocked(id, a.agents[id]))
	}
	a.mu.Unlock()
	for i := range out {
		out[i] = a.routed(out[i])
	}
	return out
}

// sessionsOf returns the Bayeux sessions of an account.
func (a *API) sessionsOf(id string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ag := a.agents[id]; ag != nil {
		return slices.Collect(maps.Keys(ag.sessions))
	}
	return nil
}

// attachSession records an agent's Bayeux session; a reconnect within the grace period
// cancels the pending abnormal-disconnect handling.
func (a *API) attachSession(acct accounts.Account, sessionID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ag := a.touchLocked(acct)
	ag.sessions[sessionID] = struct{}{}
	a.bySession[sessionID] = acct.ID
	if ag.lost != nil {
		ag.lost.Stop()
		ag.lost = nil
		ag.lostGen++
		a.log.Info("agent desktop reconnected within the grace period", "agent", acct.ID)
	}
}

// detachSession forgets a removed Bayeux session. When it was the agent's last one, the
// grace timer starts: if no session comes back in time, the desktop is lost (desktopLost).
func (a *API) detachSession(sessionID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.bySession[sessionID]
	if !ok {
		return
	}
	delete(a.bySession, sessionID)
	ag := a.agents[id]
	if ag == nil {
		return
	}
	delete(ag.sessions, sessionID)
	if len(ag.sessions) > 0 || ag.lost != nil || a.closed {
		return
	}
	ag.lostGen++
	gen := ag.lostGen
	ag.lost = a.clock.AfterFunc(a.cfg.DisconnectGrace, func() { a.desktopLost(id, gen) })
}

// desktopLost runs when an agent's desktop stayed without a Bayeux session for the grace
// period: the agent is logged out and leaves each of its chats with the abnormal quit
// reason (status 4), so the chats go back to routing.
func (a *API) desktopLost(id string, gen uint64) {
	a.mu.Lock()
	ag := a.agents[id]
	if ag == nil || ag.lostGen != gen || ag.lost == nil || len(ag.sessions) > 0 || a.closed {
		a.mu.Unlock()
		return
	}
	ag.lost = nil
	ag.state, ag.reason, ag.since = StateLoggedOut, "", a.clock.Now()
	acct := ag.acct
	a.mu.Unlock()
	ctx := context.Background()
	a.st.lost.Add(1)
	a.board.touch()
	if err := a.route(acct, StateLoggedOut, ""); err != nil {
		a.log.Warn("agent desktop lost: routing logout failed", "agent", id, "err", err)
	}
	chats := a.chatsOf(id)
	a.log.Warn("agent desktop lost: chats returned to routing", "agent", id, "chats", len(chats), "grace", a.cfg.DisconnectGrace)
	for _, chatID := range chats {
		if _, err := a.cfg.Chats.AgentLost(ctx, chatID, id); err != nil {
			a.log.Warn("agent desktop lost: removing the agent failed", "agent", id, "chat", chatID, "err", err)
		}
	}
}
