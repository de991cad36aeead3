package routing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/chatcore"
)

// KV keys: "w.<chat>" a waiting chat, "l.c.<chat>" the chat's last agent, "l.k.<hash>" the
// customer's last agent (the hash of Config.CustomerKey's value: no personal data in keys).

// waitRec is what a chat's state cannot say about its wait.
type waitRec struct {
	Since   int64 `json:"since"` // unix ms
	Noticed bool  `json:"noticed,omitempty"`
}

// lastRec is the last agent who handled a chat or a customer.
type lastRec struct {
	Agent string `json:"agent"`
	At    int64  `json:"at"` // unix ms, when the agent left the chat
}

func waitKey(chatID string) string { return "w." + keySafe(chatID) }

// keySafe returns s when it is a valid KV key token, its hash otherwise.
func keySafe(s string) string {
	ok := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return hashKey(s)
}

func hashKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "h" + hex.EncodeToString(sum[:16])
}

// lastKeys are the keys of a chat's last agent: the chat's, then the customer's.
func (r *Router) lastKeys(v chatcore.ChatView) []string {
	keys := []string{"l.c." + keySafe(v.ID)}
	if r.cfg.CustomerKey == "-" {
		return keys
	}
	c := v.Email
	if c == "" {
		c = v.UserData[r.cfg.CustomerKey]
	}
	if c = strings.ToLower(strings.TrimSpace(c)); c != "" {
		keys = append(keys, "l.k."+hashKey(c))
	}
	return keys
}

// rememberLast records that agent left chat at now. r.mu held.
func (r *Router) rememberLast(chatID string, v chatcore.ChatView, agentID string, now time.Time) {
	if r.cfg.LastAgentWindow < 0 {
		return
	}
	if v.ID == "" {
		v.ID = chatID // the chat is gone: only its own key
	}
	rec := lastRec{Agent: agentID, At: now.UnixMilli()}
	for _, k := range r.lastKeys(v) {
		r.last[k] = rec
		r.persist.put(k, rec)
	}
}

// lastFor returns a chat's last agent while its window lasts. r.mu held.
func (r *Router) lastFor(v chatcore.ChatView, now time.Time) (lastRec, bool) {
	if r.cfg.LastAgentWindow < 0 {
		return lastRec{}, false
	}
	for _, k := range r.lastKeys(v) {
		l, ok := r.last[k]
		if !ok {
			continue
		}
		if !now.Before(time.UnixMilli(l.At).Add(r.cfg.LastAgentWindow)) {
			delete(r.last, k)
			r.persist.del(k)
			continue
		}
		return l, true
	}
	return lastRec{}, false
}

// sweepEvery is how often last-agent records whose window has passed are dropped (memory
// and KV), so they do not pile up for customers who never come back.
const sweepEvery = time.Hour

// sweepLast drops the expired last-agent records and arms the next sweep. r.mu held.
func (r *Router) sweepLast(now time.Time) {
	for k, l := range r.last {
		if !now.Before(time.UnixMilli(l.At).Add(r.cfg.LastAgentWindow)) {
			delete(r.last, k)
			r.persist.del(k)
		}
	}
	r.dl.Set("s:", now.Add(sweepEvery))
}

// loadKV reads the bucket: wait records (consumed by the first pass) and the last agents
// whose window has not passed (the others are deleted).
func (r *Router) loadKV(ctx context.Context, now time.Time) error {
	w, err := r.cfg.KV.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("routing: read %s: %w", Bucket, err)
	}
	defer func() { _ = w.Stop() }()
	var expired []string
	for {
		var e jetstream.KeyValueEntry
		select {
		case e = <-w.Updates():
		case <-ctx.Done():
			return fmt.Errorf("routing: read %s: %w", Bucket, ctx.Err())
		}
		if e == nil {
			break // all current values seen
		}
		key := e.Key()
		switch {
		case strings.HasPrefix(key, "w."):
			var rec waitRec
			if json.Unmarshal(e.Value(), &rec) == nil {
				r.waitRecs[strings.TrimPrefix(key, "w.")] = rec
			}
		case strings.HasPrefix(key, "l."):
			var rec lastRec
			if json.Unmarshal(e.Value(), &rec) == nil && rec.Agent != "" &&
				(r.cfg.LastAgentWindow < 0 || now.Before(time.UnixMilli(rec.At).Add(r.cfg.LastAgentWindow))) {
				r.last[key] = rec
			} else {
				expired = append(expired, key)
			}
		}
	}
	for _, k := range expired {
		if err := r.cfg.KV.Delete(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			r.log.Warn("delete expired last agent", "key", k, "err", err)
		}
	}
	return nil
}

// persister writes KV records off the routing path: the latest value per key wins, so the
// pending set is bounded by the number of keys (waiting chats and last agents).
type persister struct {
	kv  jetstream.KeyValue
	to  time.Duration
	log *slog.Logger

	mu      sync.Mutex
	pending map[string][]byte // nil value = delete
	wake    chan struct{}
	stop    chan struct{}
	once    sync.Once
}

func newPersister(kv jetstream.KeyValue, to time.Duration, log *slog.Logger) *persister {
	return &persister{kv: kv, to: to, log: log, pending: map[string][]byte{}, wake: make(chan struct{}, 1), stop: make(chan struct{})}
}

func (p *persister) put(key string, v any) {
	b, _ := json.Marshal(v) // plain structs: cannot fail
	p.set(key, b)
}

func (p *persister) del(key string) { p.set(key, nil) }

func (p *persister) set(key string, b []byte) {
	p.mu.Lock()
	p.pending[key] = b
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *persister) close() { p.once.Do(func() { close(p.stop) }) }

func (p *persister) run(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-p.stop:
			p.write() // what is pending at Close
			return
		case <-p.wake:
			p.write()
		}
	}
}

func (p *persister) write() {
	p.mu.Lock()
	batch := p.pending
	p.pending = map[string][]byte{}
	p.mu.Unlock()
	for k, b := range batch {
		ctx, cancel := context.WithTimeout(context.Background(), p.to)
		var err error
		if b == nil {
			err = p.kv.Delete(ctx, k)
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				err = nil
			}
		} else {
			_, err = p.kv.Put(ctx, k, b)
		}
		cancel()
		if err != nil {
			// A lost record costs a chat its FIFO place or its last agent after a restart,
			// never its routing (which follows the chat's own state).
			p.log.Warn("routing state write", "key", k, "err", err)
		}
	}
}

// noticer sends the customers' "no agent" notices off the routing path. At most one
// notice per waiting chat is pending (a wait sends one), so the queue is bounded by the
// number of waiting chats.
type noticer struct {
	core *chatcore.Core
	to   time.Duration
	log  *slog.Logger

	mu      sync.Mutex
	pending []notice
	wake    chan struct{}
	stop    chan struct{}
	once    sync.Once
}

type notice struct{ chat, text string }

// NoticeKey marks the router's notices in the event's userData (value "no-agent").
const NoticeKey = "routing-notice"

func newNoticer(core *chatcore.Core, to time.Duration, log *slog.Logger) *noticer {
	return &noticer{core: core, to: to, log: log, wake: make(chan struct{}, 1), stop: make(chan struct{})}
}

func (n *noticer) add(chat, text string) {
	n.mu.Lock()
	n.pending = append(n.pending, notice{chat, text})
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *noticer) close() { n.once.Do(func() { close(n.stop) }) }

func (n *noticer) run(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-n.stop:
			return // unsent notices are dropped: the customer is still waiting, nothing is lost
		case <-n.wake:
		}
		n.mu.Lock()
		batch := n.pending
		n.pending = nil
		n.mu.Unlock()
		for _, x := range batch {
			select {
			case <-n.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), n.to)
			_, err := n.core.SystemNotice(ctx, x.chat, x.text, map[string]string{NoticeKey: "no-agent"})
			cancel()
			if err != nil && !errors.Is(err, chatcore.ErrChatEnded) && !errors.Is(err, chatcore.ErrChatNotFound) {
				n.log.Warn("no-agent notice", "chat", x.chat, "err", err)
			}
		}
	}
}
