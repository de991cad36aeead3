package chatcore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// EndedBefore lists the ended chats whose end (ChatView.EndedAt, the customer's leaving)
// lies before t, at most limit of them (limit <= 0: no bound): the chats a retention
// policy purges (Purge). Ended chats are not held in memory, so this reads every chat's
// state document from the store (one pass over the state bucket, no transcript read): a
// periodic sweep's cost, not a request's. A document that cannot be decoded is skipped
// (load logs it).
func (co *Core) EndedBefore(ctx context.Context, t time.Time, limit int) ([]string, error) {
	cut := t.UnixMilli()
	var out []string
	errEnough := errors.New("enough")
	err := co.store.EachChat(ctx, func(id string, raw []byte, _ uint64) error {
		st, _, err := decodeState(raw)
		if err != nil || st.ID != id {
			return nil
		}
		if st.Ended && st.EndedAt != 0 && st.EndedAt < cut {
			out = append(out, id)
			if limit > 0 && len(out) >= limit {
				return errEnough
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return out, fmt.Errorf("chatcore: listing ended chats: %w", storeErr("each", err))
	}
	return out, nil
}
