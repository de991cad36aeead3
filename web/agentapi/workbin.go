package agentapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// WorkbinBucket holds every agent's workbin: key <agentId>.<chatId>.
const WorkbinBucket = "CHATGATE_WORKBINS"

// WorkbinItem is a chat in an agent's workbin: placed there on hold, until the agent marks
// it done.
type WorkbinItem struct {
	ChatID  string    `json:"chatId"`
	Service string    `json:"service"`
	Since   time.Time `json:"since"`
}

type workbins struct{ kv jetstream.KeyValue }

func openWorkbins(ctx context.Context, kvs KVOpener) (*workbins, error) {
	kv, err := kvs.KV(ctx, jetstream.KeyValueConfig{Bucket: WorkbinBucket, History: 1, Description: "chatgate agent workbins (chats on hold)"})
	if err != nil {
		return nil, fmt.Errorf("agentapi: open %s: %w: %w", WorkbinBucket, ErrUnavailable, err)
	}
	return &workbins{kv: kv}, nil
}

// validKeyPart: a chat id or account id that is a KV key token as is.
func validKeyPart(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func wbKey(agentID, chatID string) (string, bool) {
	// Account ids may contain '.', a KV token separator: escape it.
	a := strings.ReplaceAll(agentID, ".", "=")
	if !validKeyPart(strings.ReplaceAll(a, "=", "_")) || !validKeyPart(chatID) {
		return "", false
	}
	return a + "." + chatID, true
}

func (w *workbins) put(ctx context.Context, agentID string, it WorkbinItem) error {
	k, ok := wbKey(agentID, it.ChatID)
	if !ok {
		return errorf(ErrInvalid, "workbin key")
	}
	b, _ := json.Marshal(it)
	if _, err := w.kv.Put(ctx, k, b); err != nil {
		return fmt.Errorf("agentapi: workbin put: %w: %w", ErrUnavailable, err)
	}
	return nil
}

func (w *workbins) has(ctx context.Context, agentID, chatID string) (bool, error) {
	k, ok := wbKey(agentID, chatID)
	if !ok {
		return false, nil
	}
	_, err := w.kv.Get(ctx, k)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	}
	return false, fmt.Errorf("agentapi: workbin get: %w: %w", ErrUnavailable, err)
}

func (w *workbins) remove(ctx context.Context, agentID, chatID string) error {
	k, ok := wbKey(agentID, chatID)
	if !ok {
		return nil
	}
	if err := w.kv.Purge(ctx, k); err != nil {
		return fmt.Errorf("agentapi: workbin remove: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// list returns an agent's workbin, oldest first, at most max items.
func (w *workbins) list(ctx context.Context, agentID string, max int) ([]WorkbinItem, error) {
	prefix := strings.ReplaceAll(agentID, ".", "=")
	lister, err := w.kv.ListKeysFiltered(ctx, prefix+".*")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return []WorkbinItem{}, nil
		}
		return nil, fmt.Errorf("agentapi: workbin list: %w: %w", ErrUnavailable, err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	out := []WorkbinItem{}
	for _, k := range keys {
		e, err := w.kv.Get(ctx, k)
		if err != nil {
			continue // removed meanwhile
		}
		var it WorkbinItem
		if json.Unmarshal(e.Value(), &it) == nil {
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(x, y WorkbinItem) int { return x.Since.Compare(y.Since) })
	if len(out) > max {
		out = out[:max]
	}
	return out, nil
}
