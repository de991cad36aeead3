package agentapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
)

// ContactsBucket indexes chats by customer for contact history: key
// <kind>.<hash of the customer's e-mail or HistoryKey value>.<chatId>, empty value. Ended
// chats leave the core's memory, so the index is what finds them again.
const ContactsBucket = "CHATGATE_CONTACTS"

// contactQueue bounds the index writes waiting for the writer goroutine; beyond it a
// chat is left out of the index (logged and counted), never the chat itself delayed.
const contactQueue = 4096

type contacts struct {
	kv      jetstream.KeyValue
	q       chan []string
	dropped atomic.Uint64
	mu      sync.Mutex
	done    chan struct{}
	stop    chan struct{}
}

func openContacts(ctx context.Context, kvs KVOpener) (*contacts, error) {
	kv, err := kvs.KV(ctx, jetstream.KeyValueConfig{Bucket: ContactsBucket, History: 1, Description: "chatgate contact history index"})
	if err != nil {
		return nil, fmt.Errorf("agentapi: open %s: %w: %w", ContactsBucket, ErrUnavailable, err)
	}
	c := &contacts{kv: kv, q: make(chan []string, contactQueue), done: make(chan struct{}), stop: make(chan struct{})}
	go c.run()
	return c, nil
}

// run writes queued index keys until close.
func (c *contacts) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case keys := <-c.q:
			for _, k := range keys {
				_, _ = c.kv.Put(context.Background(), k, nil) // a lost key only shortens one history
			}
		}
	}
}

func (c *contacts) close() {
	c.mu.Lock()
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.mu.Unlock()
	<-c.done
}

func contactHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// customerKeys are the index prefixes of a chat's customer: by e-mail (case-insensitive)
// and by the HistoryKey userData value.
func (a *API) customerKeys(v chatcore.ChatView) []string {
	var out []string
	if e := strings.ToLower(strings.TrimSpace(v.Email)); e != "" {
		out = append(out, "e."+contactHash(e))
	}
	if k := v.UserData[a.cfg.HistoryKey]; k != "" {
		out = append(out, "k."+contactHash(k))
	}
	return out
}

// recordContact queues a new chat's index keys (called from the core listener).
func (a *API) recordContact(v chatcore.ChatView) {
	if !validKeyPart(v.ID) {
		return
	}
	var keys []string
	for _, p := range a.customerKeys(v) {
		keys = append(keys, p+"."+v.ID)
	}
	if len(keys) == 0 {
		return
	}
	select {
	case a.contacts.q <- keys:
	default:
		a.contacts.dropped.Add(1)
		a.log.Warn("agentapi: contact history index queue full; chat left out of contact history", "chat", v.ID)
	}
}

// history lists the other chats of the same customer (by e-mail address, else by the
// HistoryKey userData value), newest first, at most MaxList.
func (a *API) history(ctx context.Context, acct accounts.Account, chatID string) ([]ChatInfo, error) {
	ac, err := a.access(ctx, acct, chatID)
	if err != nil {
		return nil, err
	}
	if !ac.may() {
		return nil, errorf(ErrForbidden, "chat %s is not yours", chatID)
	}
	ids := map[string]struct{}{}
	for _, p := range a.customerKeys(ac.view) {
		lister, err := a.contacts.kv.ListKeysFiltered(ctx, p+".*")
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("agentapi: contact history: %w: %w", ErrUnavailable, err)
		}
		for k := range lister.Keys() {
			if id := k[strings.LastIndexByte(k, '.')+1:]; id != chatID {
				ids[id] = struct{}{}
			}
		}
	}
	var views []chatcore.ChatView
	for id := range ids {
		v, err := a.cfg.Chats.Chat(id)
		if err != nil {
			continue // purged, or another node's live chat
		}
		views = append(views, v)
	}
	slices.SortFunc(views, func(x, y chatcore.ChatView) int { return y.Created.Compare(x.Created) })
	if len(views) > a.cfg.MaxList {
		views = views[:a.cfg.MaxList]
	}
	out := make([]ChatInfo, 0, len(views))
	for _, v := range views {
		me, _ := v.Participant(acct.ID)
		// Reopening from contact history: an earlier participant may join a live chat.
		out = append(out, a.info(v, acct, false, !v.Ended && me.UserID != "" && !me.Present, false))
	}
	return out, nil
}

// historyTranscript reads one page of an earlier chat of the same customer, read-only, for
// a caller who may see chatID: contact history is for the agent handling the customer now,
// who was usually not in the earlier chats. The earlier chat must share a customer key
// (e-mail, HistoryKey value) with chatID — the criterion of history itself — so the route
// opens no chat beyond that customer's. Events are filtered for the caller's type (no VIP
// for agents), as in transcript.
func (a *API) historyTranscript(ctx context.Context, acct accounts.Account, chatID, earlierID string, from int64) ([]Event, chatcore.Page, error) {
	ac, err := a.access(ctx, acct, chatID)
	if err != nil {
		return nil, chatcore.Page{}, err
	}
	if !ac.may() {
		return nil, chatcore.Page{}, errorf(ErrForbidden, "chat %s is not yours", chatID)
	}
	if !validKeyPart(earlierID) || earlierID == chatID {
		return nil, chatcore.Page{}, errorf(ErrNotFound, "chat %.64q is not in the contact history of %s", earlierID, chatID)
	}
	ev, err := a.cfg.Chats.Chat(earlierID)
	if err != nil {
		return nil, chatcore.Page{}, coreErr(err)
	}
	if acct.Role == accounts.RoleBot && !slices.Contains(acct.Queues, ev.Service) {
		return nil, chatcore.Page{}, errorf(ErrForbidden, "bot %s is not scoped to service %s", acct.ID, ev.Service)
	}
	if !sharesCustomer(a.customerKeys(ac.view), a.customerKeys(ev)) {
		return nil, chatcore.Page{}, errorf(ErrNotFound, "chat %s is not in the contact history of %s", earlierID, chatID)
	}
	page, err := a.cfg.Chats.EventsPage(ctx, earlierID, max(from, 1), 0, 0)
	if err != nil {
		return nil, chatcore.Page{}, coreErr(err)
	}
	return wireEvents(page.Events, partyType(acct.Role)), page, nil
}

func sharesCustomer(x, y []string) bool {
	for _, k := range x {
		if slices.Contains(y, k) {
			return true
		}
	}
	return false
}
