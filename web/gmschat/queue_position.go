package gmschat

import (
	"context"
	"maps"
	"strconv"
	"sync/atomic"
	"time"
)

// userData keys of a refresh answer while the chat waits for an agent (docs/gms-api.md,
// "Queue position"). GMS clients already read an answer's userData as a free map, so the
// keys reach a GMS client without a new operation and a client that ignores them is not
// disturbed.
const (
	UDQueue          = "routing-queue"
	UDQueuePosition  = "routing-position"
	UDQueueWaiting   = "routing-waiting"
	UDQueueOffered   = "routing-offered"
	UDEstimatedWaitS = "routing-estimated-wait"
)

// QueuePosition is where a waiting chat stands in its routing queue.
type QueuePosition struct {
	Queue string
	// Position is 1 for the next chat to be offered; 0 while the chat is being offered.
	Position int
	Offered  bool
	Waiting  int // chats waiting in the queue (not being offered)
	// EstimatedWait is meaningful only when EstimateKnown.
	EstimatedWait time.Duration
	EstimateKnown bool
}

// QueuePositions is what the refresh answer needs from the router (chatcore/routing,
// adapted in cmd/chatgate): ok is false when the chat does not wait for an agent.
type QueuePositions interface {
	QueuePosition(chatID string) (QueuePosition, bool)
}

// PositionBackend is a Backend whose successful refresh answers carry the chat's queue
// position in userData. The router starts after the adapter (it needs the chat core the
// adapter's backend also serves), hence SetPositions instead of a constructor argument;
// until it is called refresh answers are those of the wrapped Backend.
type PositionBackend struct {
	Backend
	src atomic.Pointer[QueuePositions]
}

// NewPositionBackend wraps be.
func NewPositionBackend(be Backend) *PositionBackend { return &PositionBackend{Backend: be} }

// SetPositions sets the position source (safe while requests run).
func (b *PositionBackend) SetPositions(p QueuePositions) { b.src.Store(&p) }

// Do runs op on the wrapped Backend and, for a refresh of a chat that waits, adds the
// position. The credentials were verified by the wrapped Backend (it answered with the
// chat), so only the chat's own customer learns its position.
func (b *PositionBackend) Do(ctx context.Context, op Op) (Response, error) {
	resp, err := b.Backend.Do(ctx, op)
	src := b.src.Load()
	if err != nil || op.Kind != OpRefresh || src == nil || resp.StatusCode != StatusOK || resp.ChatEnded || resp.ChatID == "" {
		return resp, err
	}
	pos, ok := (*src).QueuePosition(resp.ChatID)
	if !ok {
		return resp, nil
	}
	ud := make(map[string]string, len(resp.UserData)+5)
	maps.Copy(ud, resp.UserData)
	ud[UDQueue] = pos.Queue
	ud[UDQueuePosition] = strconv.Itoa(pos.Position)
	ud[UDQueueWaiting] = strconv.Itoa(pos.Waiting)
	ud[UDQueueOffered] = strconv.FormatBool(pos.Offered)
	if pos.EstimateKnown {
		ud[UDEstimatedWaitS] = strconv.FormatInt(int64((pos.EstimatedWait+time.Second-1)/time.Second), 10)
	}
	resp.UserData = ud
	return resp, nil
}
