package routing

import (
	"errors"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// AsyncReleased is GCTI_Chat_AsyncStatus 5, "released to a queue" (chatcore.ReleaseToQueue):
// the chat is routed again without the last-agent preference.
const AsyncReleased = 5

// Errors of the Router, wrapped with context (%w); test with errors.Is.
var (
	// ErrInvalid: a missing or malformed argument (empty agent id, negative capacity,
	// unknown state).
	ErrInvalid = errors.New("routing: invalid argument")
	// ErrUnknownAgent: the agent is not logged in.
	ErrUnknownAgent = errors.New("routing: agent not logged in")
	// ErrNoOffer: the chat is not (or no longer) offered to this agent.
	ErrNoOffer = errors.New("routing: no such offer")
	// ErrNotQueued: the chat is not waiting in a queue.
	ErrNotQueued = errors.New("routing: chat not queued")
	// ErrClosed: the Router is closed.
	ErrClosed = errors.New("routing: closed")
)

// State is an agent's routing state.
type State string

// Agent states. LoggedOut agents are forgotten (their chats stay theirs in chatcore).
const (
	StateLoggedOut State = "logged-out"
	StateNotReady  State = "not-ready"
	StateReady     State = "ready"
)

// Agent is the routing profile of an agent (from its account).
type Agent struct {
	ID       string // the agent's userId in chats
	Nickname string // shown to the customer when the agent joins
	Queues   []string
	Capacity int // concurrent chats (offers included); 0 receives no offers
}

// AgentStatus is an agent as the router sees it.
type AgentStatus struct {
	Agent
	State  State
	Reason string    // of NotReady
	Since  time.Time // of the current state
	// Chats are the chats the agent is in (from the chats' participants), Offers the chats
	// offered to it now.
	Chats  []string
	Offers []string
}

// Offer is a chat offered to an agent.
type Offer struct {
	ChatID, AgentID, Service, Queue string
	// Chat is the chat when it was offered (subject, customer nickname, userData).
	Chat    chatcore.ChatView
	Offered time.Time
	Expires time.Time
	// LastAgent says the agent is offered the chat as the customer's last agent.
	LastAgent bool
}

// Withdrawal says why an offer ended without an accept.
type Withdrawal string

// Withdrawal reasons.
const (
	WithdrawTimeout  Withdrawal = "timeout"     // OfferTimeout passed
	WithdrawRejected Withdrawal = "rejected"    // the agent rejected it (Reject)
	WithdrawAgent    Withdrawal = "agent-state" // the agent became NotReady or logged out
	WithdrawChat     Withdrawal = "chat-gone"   // the chat ended, stopped waiting, or Join failed
)

// OfferSink receives offers; the agent API implements it. Calls come one at a time, in
// order (an offer's Offer before its OfferWithdrawn), never under the router's lock: a sink
// may call the Router (Accept from Offer is fine) but must not block for long — it delays
// every later offer.
type OfferSink interface {
	Offer(o Offer)
	OfferWithdrawn(o Offer, why Withdrawal)
}

// QueueObserver may be implemented by the OfferSink to learn when the queues may have
// changed (a chat entered, left or moved, a deadline fired) without an offer to show it,
// e.g. to refresh a supervisor's view of Waiting: QueuesChanged is called after such a pass
// of the router's loop, after that pass's offers, from the loop, with no lock held. It must
// not block.
type QueueObserver interface {
	QueuesChanged()
}

// Position is a waiting chat's place in its queue.
type Position struct {
	Queue string
	// Position is 1 for the next chat to be offered; 0 while the chat is being offered.
	Position int
	Offered  bool
	// Waiting is the number of chats waiting in the queue (not being offered).
	Waiting int
	Since   time.Time // when the chat started to wait
	// EstimatedWait is known once the queue has seen two accepts: the position times the
	// mean time between the last accepts.
	EstimatedWait time.Duration
	EstimateKnown bool
}

// WaitingChat is one entry of a queue, for supervisors.
type WaitingChat struct {
	ChatID, Service string
	Priority        int
	Since           time.Time
	Position        int    // 0 while offered
	OfferedTo       string // agent id while offered
	LastAgent       string // the preferred agent, while its window lasts
}
