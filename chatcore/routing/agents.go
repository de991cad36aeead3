package routing

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// agent is a logged-in agent.
type agent struct {
	Agent
	state     State
	reason    string
	since     time.Time
	offers    map[string]*entry
	lastOffer time.Time
}

func (r *Router) unindex(ag *agent) {
	for _, q := range ag.Queues {
		if qq := r.queues[q]; qq != nil {
			delete(qq.agents, ag.ID)
			r.dropIfIdle(q)
		}
	}
}

func (r *Router) free(ag *agent) int { return ag.Capacity - r.load(ag) }

// load is what counts against an agent's capacity: the chats it is in and its offers.
func (r *Router) load(ag *agent) int { return len(r.chatsOf[ag.ID]) + len(ag.offers) }

func (r *Router) addChat(agentID, chatID string) {
	m := r.chatsOf[agentID]
	if m == nil {
		m = map[string]struct{}{}
		r.chatsOf[agentID] = m
	}
	m[chatID] = struct{}{}
}

func (r *Router) removeChat(agentID, chatID string) {
	if m := r.chatsOf[agentID]; m != nil {
		delete(m, chatID)
		if len(m) == 0 {
			delete(r.chatsOf, agentID)
		}
	}
}

// Login registers an agent (or updates its profile: queues, capacity, nickname, keeping
// its state). A new agent starts NotReady.
func (r *Router) Login(a Agent) error {
	if a.ID == "" || a.Capacity < 0 {
		return fmt.Errorf("agent %.32q capacity %d: %w", a.ID, a.Capacity, ErrInvalid)
	}
	a.Queues = slices.Clone(a.Queues)
	now := r.clock.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	ag := r.agents[a.ID]
	if ag == nil {
		ag = &agent{state: StateNotReady, since: now, offers: map[string]*entry{}}
		r.agents[a.ID] = ag
	} else {
		r.unindex(ag)
	}
	ag.Agent = a
	for _, q := range a.Queues {
		r.queue(q).agents[a.ID] = ag
	}
	r.todoAgents[ag] = struct{}{}
	r.mu.Unlock()
	r.poke()
	return nil
}

// SetState makes a logged-in agent Ready, NotReady (with a reason) or logs it out
// (StateLoggedOut, as Logout). Leaving Ready withdraws the agent's offers; the chats it is
// in stay its chats.
func (r *Router) SetState(agentID string, s State, reason string) error {
	if s != StateReady && s != StateNotReady && s != StateLoggedOut {
		return fmt.Errorf("state %.32q: %w", s, ErrInvalid)
	}
	now := r.clock.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	ag := r.agents[agentID]
	if ag == nil {
		r.mu.Unlock()
		return fmt.Errorf("agent %.32q: %w", agentID, ErrUnknownAgent)
	}
	r.setState(ag, s, reason, now)
	r.mu.Unlock()
	r.flush()
	r.poke()
	return nil
}

// Logout logs an agent out (SetState StateLoggedOut).
func (r *Router) Logout(agentID string) error { return r.SetState(agentID, StateLoggedOut, "") }

// setState changes an agent's state. r.mu held.
func (r *Router) setState(ag *agent, s State, reason string, now time.Time) {
	if s != StateNotReady {
		reason = ""
	}
	if ag.state != s || ag.reason != reason {
		ag.state, ag.reason, ag.since = s, reason, now
	}
	if s != StateReady {
		for _, e := range sortedEntries(ag.offers) {
			if !e.accepting { // an accepted offer's Join is on its way: its outcome decides
				r.withdraw(e, WithdrawAgent, now)
			}
		}
	} else {
		r.todoAgents[ag] = struct{}{}
	}
	if s == StateLoggedOut {
		r.unindex(ag)
		delete(r.agents, ag.ID)
		delete(r.todoAgents, ag)
	}
}

// Accept accepts an offer: the router joins the agent to the chat (chatcore.Core.Join as
// an Agent with the agent's id and nickname) and returns the Join's result. ErrNoOffer when
// the chat is not offered to the agent (taken back, expired, accepted already); the Join's
// errors otherwise (the chat then goes to the next agent).
func (r *Router) Accept(ctx context.Context, agentID, chatID string) (chatcore.Participant, chatcore.Result, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return chatcore.Participant{}, chatcore.Result{}, ErrClosed
	}
	e := r.entries[chatID]
	ag := r.agents[agentID]
	if e == nil || ag == nil || e.offeredTo != agentID || e.accepting {
		r.mu.Unlock()
		return chatcore.Participant{}, chatcore.Result{}, fmt.Errorf("chat %s for agent %.32q: %w", chatID, agentID, ErrNoOffer)
	}
	e.accepting = true
	nick := ag.Nickname
	r.mu.Unlock()

	p, res, err := r.core.Join(ctx, chatID, chatcore.JoinRequest{Type: chatcore.Agent, Nickname: nick, UserID: agentID})
	now := r.clock.Now()
	r.mu.Lock()
	if r.entries[chatID] == e && e.offeredTo == agentID {
		if err != nil {
			e.accepting = false
			r.withdraw(e, WithdrawChat, now)
		} else {
			r.assigned(e, now)
			if r.handling[chatID] == nil {
				r.handling[chatID] = map[string]time.Time{}
			}
			if _, in := r.handling[chatID][agentID]; !in {
				r.handling[chatID][agentID] = now
				r.addChat(agentID, chatID)
			}
		}
	}
	r.mu.Unlock()
	r.flush()
	r.mark(chatID) // look at the chat's own state (Join may have failed because it ended)
	if err != nil {
		return chatcore.Participant{}, chatcore.Result{}, fmt.Errorf("routing: join %s: %w", chatID, err)
	}
	return p, res, nil
}

// Reject declines an offer: the chat goes to the next agent, and this agent is not offered
// it again for Config.RejectCooldown.
func (r *Router) Reject(agentID, chatID string) error {
	now := r.clock.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	e := r.entries[chatID]
	if e == nil || e.offeredTo != agentID || e.accepting {
		r.mu.Unlock()
		return fmt.Errorf("chat %s for agent %.32q: %w", chatID, agentID, ErrNoOffer)
	}
	r.st.rejected++
	r.exclude(e, agentID, now)
	r.withdraw(e, WithdrawRejected, now)
	r.mu.Unlock()
	r.flush()
	r.poke()
	return nil
}

// Agent returns a logged-in agent's status.
func (r *Router) Agent(agentID string) (AgentStatus, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ag := r.agents[agentID]
	if ag == nil {
		return AgentStatus{}, false
	}
	return r.status(ag), true
}

// Agents lists the logged-in agents by id.
func (r *Router) Agents() []AgentStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]AgentStatus, 0, len(r.agents))
	for _, ag := range r.agents {
		out = append(out, r.status(ag))
	}
	slices.SortFunc(out, func(a, b AgentStatus) int { return cmpString(a.ID, b.ID) })
	return out
}

func (r *Router) status(ag *agent) AgentStatus {
	s := AgentStatus{Agent: ag.Agent, State: ag.state, Reason: ag.reason, Since: ag.since}
	s.Queues = slices.Clone(ag.Queues)
	s.Chats = slices.Sorted(maps.Keys(r.chatsOf[ag.ID]))
	s.Offers = slices.Sorted(maps.Keys(ag.offers))
	return s
}

// Offers returns the offers pending for an agent (for a desktop that reconnects).
func (r *Router) Offers(agentID string) []Offer {
	r.mu.Lock()
	defer r.mu.Unlock()
	ag := r.agents[agentID]
	if ag == nil {
		return nil
	}
	var out []Offer
	for _, e := range sortedEntries(ag.offers) {
		out = append(out, e.offer())
	}
	return out
}
