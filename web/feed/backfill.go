package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/chatcore"
)

// Transcripts is what Backfill reads from the chat core (*chatcore.Core satisfies it).
type Transcripts interface {
	ChatIDs() []string
	Chat(chatID string) (chatcore.ChatView, error)
	EventsPage(ctx context.Context, chatID string, from int64, maxEvents, maxBytes int) (chatcore.Page, error)
}

// BackfillStats says what Backfill did.
type BackfillStats struct {
	Chats, Events int
}

// Backfill closes the gap a crash leaves between the transcript append (the commit) and
// the feed's write: for every chat the core holds, it records the committed events after
// the last one the feed has for that chat, read back from the transcript, then one
// property record with the chat's current properties. Call it at start, after the core
// loaded its chats and before anything can commit (timers deferred, HTTP not yet serving),
// so the records keep the chat's order. A chat without any feed record is backfilled only
// for events younger than the feed's max age (older ones would have aged out anyway).
// Cost: one stream lookup per chat held.
func (f *Feed) Backfill(ctx context.Context, chats Transcripts) (BackfillStats, error) {
	var st BackfillStats
	oldest := f.now().Add(-f.maxAge).UnixMilli()
	for _, id := range chats.ChatIDs() {
		v, err := chats.Chat(id)
		if err != nil {
			continue // gone since ChatIDs
		}
		have, known, err := f.lastIndex(ctx, id)
		if err != nil {
			return st, err
		}
		if have >= v.LastIndex {
			continue
		}
		n := 0
		for from := have + 1; from <= v.LastIndex; {
			p, err := chats.EventsPage(ctx, id, from, 0, 0)
			if err != nil {
				return st, fmt.Errorf("backfill chat %s: %w", id, err)
			}
			for _, ev := range p.Events {
				if ev.Index > v.LastIndex {
					break
				}
				if !known && ev.UTCTime < oldest {
					continue
				}
				f.OnEvent(v, ev)
				n++
			}
			if len(p.Events) == 0 || !p.More {
				break
			}
			from = p.Next
		}
		if n > 0 {
			f.OnProperties(v, v.Properties())
			st.Chats++
			st.Events += n
		}
	}
	return st, nil
}

// lastIndex is the chat's last transcript index the feed recorded; known is false when the
// feed has no record of the chat.
func (f *Feed) lastIndex(ctx context.Context, chatID string) (int64, bool, error) {
	m, err := f.stream.GetLastMsgForSubject(ctx, Subject(chatID, KindEvent))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("feed last record of %s: %w", chatID, err)
	}
	var r Record
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return 0, false, fmt.Errorf("feed last record of %s: %w", chatID, err)
	}
	return r.LastIndex, true, nil
}
