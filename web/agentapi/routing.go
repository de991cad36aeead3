package agentapi

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/routing"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
)

// Router is what the API needs of the routing engine; *routing.Router implements it.
type Router interface {
	Login(a routing.Agent) error
	SetState(agentID string, s routing.State, reason string) error
	Accept(ctx context.Context, agentID, chatID string) (chatcore.Participant, chatcore.Result, error)
	Reject(agentID, chatID string) error
	Offers(agentID string) []routing.Offer
	Waiting(queue string) []routing.WaitingChat
}

// WaitingInfo is a chat of a queue as a supervisor sees it: waiting (in offer order) or
// being offered.
type WaitingInfo struct {
	ChatID    string    `json:"chatId"`
	Service   string    `json:"service"`
	Priority  int       `json:"priority"`
	Since     time.Time `json:"since"`
	Position  int       `json:"position"` // 1 = next; 0 while offered
	OfferedTo string    `json:"offeredTo,omitempty"`
	LastAgent string    `json:"lastAgent,omitempty"`
}

// waiting lists a queue for a supervisor (ErrForbidden outside its queues).
func (a *API) waiting(acct accounts.Account, queue string) ([]WaitingInfo, error) {
	if acct.Role != accounts.RoleSupervisor || (len(acct.Queues) > 0 && !slices.Contains(acct.Queues, queue)) {
		return nil, errorf(ErrForbidden, "queue %.64q is not yours", queue)
	}
	out := []WaitingInfo{}
	if a.cfg.Router == nil {
		return out, nil
	}
	for _, w := range a.cfg.Router.Waiting(queue) {
		out = append(out, WaitingInfo{ChatID: w.ChatID, Service: w.Service, Priority: w.Priority, Since: w.Since, Position: w.Position, OfferedTo: w.OfferedTo, LastAgent: w.LastAgent})
	}
	return out, nil
}

var _ routing.OfferSink = (*API)(nil)

// OfferMessage is what /agent/{id}/offers carries: an offer ("offer") or its end without an
// accept ("withdrawn", with the reason: timeout, rejected, agent-state, chat-gone).
type OfferMessage struct {
	Type      string    `json:"type"`
	ChatID    string    `json:"chatId"`
	Queue     string    `json:"queue"`
	Expires   time.Time `json:"expires"`
	LastAgent bool      `json:"lastAgent,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Chat      *ChatInfo `json:"chat,omitempty"`
}

// offered reports whether routing offers the chat to the agent now.
func (a *API) offered(chatID, agentID string) bool {
	if a.cfg.Router == nil {
		return false
	}
	for _, o := range a.cfg.Router.Offers(agentID) {
		if o.ChatID == chatID {
			return true
		}
	}
	return false
}

// offerMessage builds the message of an offer for its agent.
func (a *API) offerMessage(o routing.Offer) OfferMessage {
	acct := accounts.Account{ID: o.AgentID, Role: accounts.RoleAgent}
	ci := a.info(o.Chat, acct, false, false, true)
	return OfferMessage{Type: "offer", ChatID: o.ChatID, Queue: o.Queue, Expires: o.Expires, LastAgent: o.LastAgent, Chat: &ci}
}

// Offer implements routing.OfferSink: the offer goes to the agent's desktops.
func (a *API) Offer(o routing.Offer) {
	a.board.touch()
	a.deliverTo(context.Background(), o.AgentID, channelOffers(o.AgentID), a.offerMessage(o))
}

// OfferWithdrawn implements routing.OfferSink.
func (a *API) OfferWithdrawn(o routing.Offer, why routing.Withdrawal) {
	a.board.touch() // also an agent made not-ready by an offer's timeout
	a.deliverTo(context.Background(), o.AgentID, channelOffers(o.AgentID),
		OfferMessage{Type: "withdrawn", ChatID: o.ChatID, Queue: o.Queue, Expires: o.Expires, Reason: string(why)})
}

// pendingOffers lists an agent's offers (for GET /offers and a reconnecting desktop).
func (a *API) pendingOffers(id string) []OfferMessage {
	out := []OfferMessage{}
	if a.cfg.Router == nil {
		return out
	}
	for _, o := range a.cfg.Router.Offers(id) {
		out = append(out, a.offerMessage(o))
	}
	return out
}

// route mirrors an agent's presence into the router (agents only: supervisors and bots
// are not offered chats).
func (a *API) route(acct accounts.Account, st State, reason string) error {
	if a.cfg.Router == nil || acct.Role != accounts.RoleAgent {
		return nil
	}
	if st == StateLoggedOut {
		if err := a.cfg.Router.SetState(acct.ID, routing.StateLoggedOut, ""); err != nil && !errors.Is(err, routing.ErrUnknownAgent) {
			return err
		}
		return nil
	}
	if err := a.cfg.Router.Login(routing.Agent{ID: acct.ID, Nickname: acct.DisplayName, Queues: acct.Queues, Capacity: capacity(acct)}); err != nil {
		return err
	}
	rs := routing.StateReady
	if st == StateNotReady {
		rs = routing.StateNotReady
	}
	return a.cfg.Router.SetState(acct.ID, rs, reason)
}

func channelOffers(id string) string { return "/agent/" + id + "/offers" }

var _ routing.QueueObserver = (*API)(nil)

// QueuesChanged implements routing.QueueObserver: a chat entered, left or moved in a queue
// (the board's waiting list and longest wait), which routing learns after the core's event.
func (a *API) QueuesChanged() { a.board.touch() }
