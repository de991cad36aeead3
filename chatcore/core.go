package chatcore

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatgate/chatgate/chatcore/internal/deadline"
	"github.com/chatgate/chatgate/chatcore/jetstore"
	"golang.org/x/time/rate"
)

// LivenessChecker answers whether a push-enabled customer whose flex-push-timeout expired is
// still alive (a live CometD connection, or a delivered silent ping). *pushlink.Link
// implements it.
type LivenessChecker interface {
	CheckAlive(ctx context.Context, chatID, userID string) (bool, error)
}

// Limits bound what one operation may carry, what one chat may hold and how fast it may
// grow. Zero fields take the defaults.
type Limits struct {
	MaxText         int // message, typing preview, notice text, pushed URL (16 KiB)
	MaxNickname     int // nickname, subject (256 bytes)
	MaxUserDataKeys int // keys in a chat's userData (128)
	MaxUserDataKey  int // key length (256 bytes)
	MaxUserDataVal  int // value length (16 KiB)
	// MaxUserDataBytes bounds a chat's userData, keys and values together (64 KiB), so the
	// state document stays well under the store's record limit.
	MaxUserDataBytes int

	// MaxEvents and MaxTranscriptBytes bound one chat's transcript: its events (10,000) and
	// their stored JSON bytes (8 MiB). An operation that would pass either fails with
	// ErrTranscriptFull. Leaving and ending the chat, joins and the server's own notices
	// are exempt (so a full chat can still end), within SystemEventReserve more events.
	MaxEvents          int
	MaxTranscriptBytes int64
	// EventRate and EventBurst bound how fast one participant adds events to one chat
	// (token bucket: EventRate per second, bursts of EventBurst; 5/s and 20). Typing
	// notices count. Over it: ErrRateLimited, nothing committed. The exempt events above
	// are not limited.
	EventRate  float64
	EventBurst int
	// MaxPageEvents and MaxPageBytes bound one EventsPage read (500 events, 1 MiB), so no
	// reader holds a whole transcript; callers asking for more get this much.
	MaxPageEvents int
	MaxPageBytes  int
}

// SystemEventReserve is how many events past MaxEvents a chat may still get from the
// exempt events (leaves, joins, the server's notices). The store's per-chat record cap is
// set to MaxEvents + SystemEventReserve, a backstop that holds whatever a writer does.
const SystemEventReserve = 1024

func (l Limits) withDefaults() Limits {
	if l.MaxText <= 0 {
		l.MaxText = 16 << 10
	}
	if l.MaxNickname <= 0 {
		l.MaxNickname = 256
	}
	if l.MaxUserDataKeys <= 0 {
		l.MaxUserDataKeys = 128
	}
	if l.MaxUserDataKey <= 0 {
		l.MaxUserDataKey = 256
	}
	if l.MaxUserDataVal <= 0 {
		l.MaxUserDataVal = 16 << 10
	}
	if l.MaxUserDataBytes <= 0 {
		l.MaxUserDataBytes = 64 << 10
	}
	if l.MaxEvents <= 0 {
		l.MaxEvents = 10_000
	}
	if l.MaxTranscriptBytes <= 0 {
		l.MaxTranscriptBytes = 8 << 20
	}
	if l.EventRate <= 0 {
		l.EventRate = 5
	}
	if l.EventBurst <= 0 {
		l.EventBurst = 20
	}
	if l.MaxPageEvents <= 0 {
		l.MaxPageEvents = 500
	}
	if l.MaxPageBytes <= 0 {
		l.MaxPageBytes = 1 << 20
	}
	return l
}

// Config configures a Core.
type Config struct {
	Store Store // required
	// Clock defaults to RealClock.
	Clock Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Options serves live options per service; nil means DefaultOptions for every service.
	Options OptionSource
	// Liveness answers flex-push liveness checks; nil means never alive.
	Liveness LivenessChecker
	// NodeName is this node's name: the alias of responses and ChatServerAppName.
	NodeName string
	// Listeners receive every committed event and property change (see AddListener).
	Listeners []Listener
	// Limits bound operation payloads.
	Limits Limits
	// DeferTimers keeps timers from firing until StartTimers is called (so listeners added
	// after New see what falls due at start).
	DeferTimers bool
	// Workers is the number of goroutines firing due timers (default 8).
	Workers int
	// StoreTimeout bounds the store calls made by timers (default 10 s).
	StoreTimeout time.Duration
}

// Result is what an operation returns.
type Result struct {
	// Chat is the chat after the operation.
	Chat ChatView
	// Events are the events the operation committed (acknowledged by the store), in order.
	Events []Event
	// UserData is the operation's extra answer (file-id of an upload).
	UserData map[string]string
}

// warmWorkers is how many chats the background re-read after New reads at once.
const warmWorkers = 4

// checkpointEvery bounds how far the stored state document may lag the transcript.
const checkpointEvery = 64

// Core runs chats: one entry point per operation, rules and timers, fan-out to listeners.
type Core struct {
	store  Store
	clock  Clock
	log    *slog.Logger
	opts   OptionSource
	live   LivenessChecker
	node   string
	limits Limits
	stTO   time.Duration

	refused refusals

	lmu       sync.RWMutex
	listeners []*listenerEntry

	mu    sync.RWMutex
	chats map[string]*chat
	// byKey finds a chat in memory from its secureKey's hash (keyHash).
	byKey  map[string]*chat
	closed bool

	tmu   sync.Mutex
	q     *deadline.Queue
	armed time.Time // deadline the timer loop waits for (zero: none)
	// inflight counts chats popped from the queue whose timer action (or liveness check) has
	// not finished.
	inflight int
	// tick is poked whenever timer work starts or ends (lets tests wait without polling).
	tick chan struct{}
	// warmed is closed when the background re-read after New has finished.
	warmed chan struct{}
	wake   chan struct{}
	work   chan string

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	startTmr sync.Once
	workers  int
}

// chat is the in-memory side of one chat. mu serializes its operations; dmu its delivery.
type chat struct {
	id string
	mu sync.Mutex
	st chatState
	// rev is the stored state's revision; savedIndex the LastIndex it includes.
	rev        uint64
	savedIndex int64
	// stale: re-read the transcript after the state (and, with reload, the state document
	// itself) from the store before the next operation.
	stale, reload bool
	// gone: the chat was removed (its creation never completed).
	gone bool
	// released: an ended chat no longer held in Core.chats (released, or read from the
	// store on demand); operations on it are refused as on any ended chat.
	released bool
	// dirty: the stored state misses changes that do not follow from events.
	dirty bool
	// delivered is the last index handed to listeners (-1: unknown, after a load).
	delivered int64

	// Customer protocol activity (runtime only; restarts from load time).
	lastReq     time.Time
	flexStage   int // 0 normal, 1 liveness not confirmed, re-armed once
	flexStageAt time.Time
	checking    bool
	checkStart  time.Time

	// limiters holds each participant's event rate (runtime only, by userId).
	limiters map[string]*rate.Limiter

	dmu sync.Mutex
	out []delivery
}

// New loads every stored chat, arms their timers (firing at once what fell due while no node
// ran them) and starts the timer goroutines. Close stops them.
func New(ctx context.Context, cfg Config) (*Core, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("%w: Config.Store is required", ErrInvalid)
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Options == nil {
		cfg.Options = StaticOptions(DefaultOptions())
	}
	if cfg.NodeName == "" {
		cfg.NodeName = "chatgate"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = 10 * time.Second
	}
	co := &Core{
		store: cfg.Store, clock: cfg.Clock, log: cfg.Logger, opts: cfg.Options, live: cfg.Liveness,
		node: cfg.NodeName, limits: cfg.Limits.withDefaults(), stTO: cfg.StoreTimeout,
		chats: map[string]*chat{}, byKey: map[string]*chat{},
		q: deadline.New(), wake: make(chan struct{}, 1), tick: make(chan struct{}, 1), warmed: make(chan struct{}), work: make(chan string, 1024), workers: cfg.Workers,
	}
	for _, l := range cfg.Listeners {
		co.AddListener(l)
	}
	co.ctx, co.cancel = context.WithCancel(context.Background())
	if err := co.load(ctx); err != nil {
		co.cancel()
		return nil, err
	}
	if !cfg.DeferTimers {
		co.StartTimers()
	}
	co.wg.Add(1)
	go co.warm()
	return co, nil
}

// warm re-reads, in the background after New, every chat whose stored state may lag its
// transcript, so views are current without waiting for each chat's first use. Operations
// and timers do not wait for it: they re-read a stale chat themselves.
func (co *Core) warm() {
	defer co.wg.Done()
	defer close(co.warmed)
	co.mu.RLock()
	stale := make([]*chat, 0, len(co.chats))
	for _, c := range co.chats {
		stale = append(stale, c) // whether it is stale is checked under its lock
	}
	co.mu.RUnlock()
	start := time.Now()
	var n atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range warmWorkers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(stale)) || co.ctx.Err() != nil {
					return
				}
				c := stale[i]
				c.mu.Lock()
				was := c.stale
				if err := co.syncNow(c); err != nil {
					co.log.Warn("chatcore: re-reading a chat after start", "chat", c.id, "err", err)
				} else if was {
					n.Add(1)
				}
				c.mu.Unlock()
				co.deliver(c)
				co.release(c)
			}
		})
	}
	wg.Wait()
	co.log.Info("chatcore: chats re-read after start", "chats", n.Load(), "took", time.Since(start))
}

// load reads every stored chat into memory and arms its timers.
func (co *Core) load(ctx context.Context) error {
	now := co.clock.Now()
	n, released := 0, 0
	err := co.store.EachChat(ctx, func(id string, raw []byte, rev uint64) error {
		st, migrated, err := decodeState(raw)
		if err != nil || st.ID != id {
			co.log.Error("chatcore: skipping undecodable chat state", "chat", id, "err", err)
			return nil
		}
		if st.Ended && st.KeyIndexed && !migrated {
			// Released when it ended: read on demand, not held in memory.
			released++
			return nil
		}
		// An ended chat's document was saved after its last event; others may lag it. An
		// ended chat still here is released once the warm-up has indexed its key.
		c := &chat{id: id, st: st, rev: rev, savedIndex: st.LastIndex, stale: !st.Ended, delivered: -1, lastReq: now, dirty: migrated}
		if st.Ended {
			c.delivered = st.LastIndex
		}
		co.chats[id] = c
		co.byKey[st.KeyHash] = c
		co.rescheduleLocked(c)
		n++
		return nil
	})
	if err != nil {
		return fmt.Errorf("chatcore: loading chats: %w", storeErr("each", err))
	}
	co.log.Info("chatcore: chats loaded", "chats", n, "ended_not_loaded", released)
	return nil
}

// StartTimers starts firing timers (New does it unless Config.DeferTimers). Idempotent.
func (co *Core) StartTimers() {
	co.startTmr.Do(func() {
		co.wg.Add(1 + co.workers)
		go co.timerLoop()
		for range co.workers {
			go co.worker()
		}
	})
}

// Close stops the timer goroutines and waits for running timer actions and liveness
// checks. Operations after Close fail with ErrClosed. It does not close the store.
func (co *Core) Close() {
	co.mu.Lock()
	co.closed = true
	co.mu.Unlock()
	co.cancel()
	co.StartTimers() // so wg accounting is uniform; they exit at once
	co.wg.Wait()
}

// NodeName is the node's name (alias).
func (co *Core) NodeName() string { return co.node }

func (co *Core) get(chatID string) (*chat, error) {
	co.mu.RLock()
	c, ok := co.chats[chatID]
	closed := co.closed
	co.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if ok {
		return c, nil
	}
	return co.loadReleased(chatID)
}

// loadReleased reads an ended chat that is not held in memory from the store, for this one
// call (it is not kept: reads of ended chats cost a store read, not memory). A chat that is
// not in memory and not ended is not this node's: ErrChatNotFound, as for no chat at all.
func (co *Core) loadReleased(chatID string) (*chat, error) {
	notFound := fmt.Errorf("chat %.64q: %w", chatID, ErrChatNotFound)
	ctx, cancel := context.WithTimeout(co.ctx, co.stTO)
	defer cancel()
	raw, rev, err := co.store.LoadChat(ctx, chatID)
	switch {
	case errors.Is(err, jetstore.ErrNotFound), errors.Is(err, jetstore.ErrInvalid):
		return nil, notFound
	case err != nil:
		return nil, storeErr("chatcore: load "+chatID, err)
	}
	st, _, err := decodeState(raw)
	if err != nil || st.ID != chatID || !st.Ended {
		return nil, notFound
	}
	return &chat{id: chatID, st: st, rev: rev, savedIndex: st.LastIndex, delivered: st.LastIndex, released: true}, nil
}

// release forgets an ended chat once its end is stored and delivered, so ended chats do not
// accumulate in memory: its key goes into the store's key index (so Authenticate by key
// alone still finds it) and its state document is saved with that fact; later reads load it
// on demand (loadReleased). Whatever fails leaves the chat in memory, to be retried after
// its next use. Lock order: c.mu, then co.mu.
func (co *Core) release(c *chat) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released || c.gone || !c.st.Ended || c.stale || len(c.out) > 0 {
		return
	}
	ctx, cancel := context.WithTimeout(co.ctx, co.stTO)
	defer cancel()
	if !c.st.KeyIndexed {
		if err := co.store.PutKey(ctx, c.st.KeyHash, c.id); err != nil {
			co.log.Warn("chatcore: indexing an ended chat's key", "chat", c.id, "err", err)
			return
		}
		ns := c.st
		ns.KeyIndexed = true
		if err := co.saveState(ctx, c, ns); err != nil {
			co.log.Warn("chatcore: saving an ended chat before releasing it", "chat", c.id, "err", err)
			return
		}
		c.st = ns
	} else if c.dirty || c.savedIndex < c.st.LastIndex {
		if err := co.saveState(ctx, c, c.st); err != nil {
			co.log.Warn("chatcore: saving an ended chat before releasing it", "chat", c.id, "err", err)
			return
		}
	}
	c.released = true
	co.mu.Lock()
	if co.chats[c.id] == c {
		delete(co.chats, c.id)
		delete(co.byKey, c.st.KeyHash)
	}
	co.mu.Unlock()
	co.unschedule(c.id)
}

// Authenticate checks a customer's credentials in constant time and returns the chat. With
// an empty chatID the chat is found from secureKey. userID and alias are optional; when given
// they must match (the customer's userId, this node's alias). Ended chats authenticate (so
// the caller can answer "chat ended"); ErrBadSecureKey otherwise says nothing about whether
// the chat exists when chatID is empty.
func (co *Core) Authenticate(chatID, secureKey, userID, alias string) (ChatView, error) {
	if secureKey == "" {
		return ChatView{}, fmt.Errorf("%w: no secureKey", ErrBadSecureKey)
	}
	h := keyHash(secureKey)
	var c *chat
	if chatID == "" {
		co.mu.RLock()
		c = co.byKey[h]
		closed := co.closed
		co.mu.RUnlock()
		if closed {
			return ChatView{}, ErrClosed
		}
		if c == nil {
			// Not in memory: an ended chat is found through the store's key index.
			ctx, cancel := context.WithTimeout(co.ctx, co.stTO)
			id, err := co.store.ChatForKey(ctx, h)
			cancel()
			switch {
			case errors.Is(err, jetstore.ErrNotFound):
				return ChatView{}, ErrBadSecureKey
			case err != nil:
				return ChatView{}, storeErr("chatcore: key index", err)
			}
			if c, err = co.get(id); err != nil {
				if errors.Is(err, ErrChatNotFound) {
					return ChatView{}, ErrBadSecureKey
				}
				return ChatView{}, err
			}
		}
	} else {
		var err error
		if c, err = co.get(chatID); err != nil {
			return ChatView{}, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := co.syncNow(c); err != nil {
		return ChatView{}, err
	}
	// Hashes of equal length compared in constant time: nothing about the stored key leaks
	// through timing, and the key itself is not kept.
	ok := subtle.ConstantTimeCompare([]byte(h), []byte(c.st.KeyHash)) == 1
	if userID != "" && subtle.ConstantTimeCompare([]byte(userID), []byte(c.st.Customer)) != 1 {
		ok = false
	}
	if alias != "" && alias != co.node {
		ok = false
	}
	if !ok {
		return ChatView{}, ErrBadSecureKey
	}
	return c.st.view(co.node), nil
}

// Chat returns a snapshot of a chat.
func (co *Core) Chat(chatID string) (ChatView, error) {
	c, err := co.get(chatID)
	if err != nil {
		return ChatView{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := co.syncNow(c); err != nil {
		return ChatView{}, err
	}
	return c.st.view(co.node), nil
}

// syncNow re-reads a stale chat for the calls that take no context. c.mu held.
func (co *Core) syncNow(c *chat) error {
	if !c.stale {
		return nil
	}
	ctx, cancel := context.WithTimeout(co.ctx, co.stTO)
	defer cancel()
	return co.sync(ctx, c)
}

// ChatIDs lists the chats held in memory: the live ones, and ended ones not yet released
// (see release). Ended chats are read from the store on demand and are not listed.
func (co *Core) ChatIDs() []string {
	co.mu.RLock()
	defer co.mu.RUnlock()
	out := make([]string, 0, len(co.chats))
	for id := range co.chats {
		out = append(out, id)
	}
	return out
}

// randomID returns n random characters of alphabet.
func randomID(n int, alphabet string) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func randomHex(nBytes int, upper bool) string {
	b := make([]byte, nBytes)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	s := hex.EncodeToString(b)
	if upper {
		s = strings.ToUpper(s)
	}
	return s
}

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" // 62: slight bias, ids are not secrets

// txn collects one operation's events and state changes; commit makes them durable.
type txn struct {
	co   *Core
	c    *chat
	st   *chatState // read-only view of the current state for validation
	now  time.Time
	opts Options

	events []Event
	post   []func(*chatState) // changes that do not follow from events (stored with save)
	save   bool
	result map[string]string
	touch  string // userId whose protocol activity this is
	// after runs once the events are committed (still under the chat's lock).
	after []func(ctx context.Context)
}

func (t *txn) emit(typ EventType, by From, text, messageType string, ud map[string]string) {
	t.events = append(t.events, Event{Type: typ, From: by, Text: text, MessageType: messageType, UserData: ud})
}

func (t *txn) change(f func(*chatState)) {
	t.post = append(t.post, f)
	t.save = true
}

func (p *participant) from() From {
	return From{Nickname: p.Nickname, ParticipantID: p.PID, Type: p.Type, UserID: p.UserID}
}

var systemFrom = From{Nickname: "system", ParticipantID: 0, Type: External}

// exec runs fn on the chat under its lock and commits what it produced; then delivers.
func (co *Core) exec(ctx context.Context, chatID string, fn func(t *txn) error) (Result, error) {
	c, err := co.get(chatID)
	if err != nil {
		return Result{}, err
	}
	c.mu.Lock()
	res, err := co.execLocked(ctx, c, fn)
	c.mu.Unlock()
	co.deliver(c)
	co.release(c)
	return res, err
}

func (co *Core) execLocked(ctx context.Context, c *chat, fn func(t *txn) error) (Result, error) {
	if err := co.sync(ctx, c); err != nil {
		return Result{}, err
	}
	t := &txn{co: co, c: c, st: &c.st, now: co.clock.Now(), opts: co.opts.Options(c.st.Service)}
	if err := fn(t); err != nil {
		return Result{}, err
	}
	if err := co.commit(ctx, c, t); err != nil {
		return Result{}, err
	}
	return Result{Chat: c.st.view(co.node), Events: t.events, UserData: t.result}, nil
}

// commit appends t's events (the commit point: acknowledged by the store), applies their
// effects and t's other changes, saves the state when needed, queues the fan-out and re-arms
// the chat's timers. Called with c.mu held.
func (co *Core) commit(ctx context.Context, c *chat, t *txn) error {
	before, beforeUD := c.st.propState(), c.st.UserData
	if len(t.events) == 0 {
		if t.save {
			ns := c.st
			for _, f := range t.post {
				f(&ns)
			}
			if err := co.saveState(ctx, c, ns); err != nil {
				return err
			}
			c.st = ns
		}
	} else {
		prev := c.st.LastIndex
		ms := t.now.UnixMilli()
		raws := make([][]byte, len(t.events))
		size := int64(0)
		for i := range t.events {
			e := &t.events[i]
			e.Index, e.UTCTime = prev+int64(i)+1, ms
			b, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("chatcore: encoding event: %w", err)
			}
			raws[i] = b
			size += int64(len(b))
		}
		if err := co.admit(c, t, size); err != nil {
			return err
		}
		if err := co.store.AppendJSON(ctx, c.id, prev, raws); err != nil {
			err = storeErr("chatcore: append to "+c.id, err)
			landed := errors.Is(err, ErrUnavailable) && co.landed(ctx, c.id, prev, t.events)
			if !landed {
				if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrQuota) {
					c.stale, c.reload = true, true
				}
				return err
			}
			co.log.Info("chatcore: append without acknowledgement found stored", "chat", c.id, "index", prev+1)
		}
		// Committed: what follows must not be cut short by the caller going away.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), co.stTO)
		defer cancel()
		for i := range t.events {
			apply(&c.st, &t.events[i], &t.opts)
		}
		c.st.TranscriptBytes += size
		for _, f := range t.post {
			f(&c.st)
		}
		for _, f := range t.after {
			f(ctx)
		}
		if t.save || c.dirty || c.st.LastIndex-c.savedIndex >= checkpointEvery {
			if err := co.saveState(ctx, c, c.st); err != nil {
				// The events are committed; what follows from them is rebuilt on reload.
				c.dirty = true
				co.log.Warn("chatcore: state save failed after commit", "chat", c.id, "err", err)
			}
		}
		c.out = append(c.out, delivery{events: t.events})
		c.delivered = max(c.delivered, c.st.LastIndex)
	}
	if t.touch != "" && t.touch == c.st.Customer {
		c.lastReq, c.flexStage = t.now, 0
	}
	co.queueProps(c, before, beforeUD)
	co.stampViews(c)
	co.reschedule(c)
	return nil
}

// landed settles an append whose outcome the store could not tell (no acknowledgement: a
// timeout, a lost connection): it re-reads the chat's last index and, if the transcript grew
// by exactly these events, compares them with what was sent. True means they are stored, so
// the operation succeeded; false means not stored or still unknown (the chat is then
// re-read before its next operation). Without this, a client told "unavailable, retry" for
// a message that was in fact stored would send it twice.
func (co *Core) landed(ctx context.Context, chatID string, prev int64, sent []Event) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), co.stTO)
	defer cancel()
	for range 3 {
		last, err := co.store.LastIndex(ctx, chatID)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			continue
		}
		if last != prev+int64(len(sent)) {
			return false
		}
		raws, err := co.store.EventsPage(ctx, chatID, prev+1, len(sent), math.MaxInt)
		if err != nil || len(raws) != len(sent) {
			continue
		}
		for i, r := range raws {
			var got Event
			if json.Unmarshal(r.JSON, &got) != nil {
				return false
			}
			got.Index = r.Index
			if !reflect.DeepEqual(got, sent[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// saveState writes ns with compare-and-set and records the new revision.
func (co *Core) saveState(ctx context.Context, c *chat, ns chatState) error {
	b, err := json.Marshal(&ns)
	if err != nil {
		return fmt.Errorf("chatcore: encoding state: %w", err)
	}
	rev, err := co.store.SaveChat(ctx, c.id, b, c.rev)
	if err != nil {
		err = storeErr("chatcore: save "+c.id, err)
		c.stale, c.reload = true, true
		return err
	}
	c.rev, c.savedIndex, c.dirty = rev, ns.LastIndex, false
	return nil
}

// sync re-reads a stale chat: its state document when it may be out of date (after a
// conflict or an unknown outcome; a chat loaded at start already has it), then the
// transcript after it, applying the events the document does not include yet. Events this
// process committed but had not delivered (an append whose outcome was unknown) are
// delivered now.
func (co *Core) sync(ctx context.Context, c *chat) error {
	if c.gone {
		return fmt.Errorf("chat %s: %w", c.id, ErrChatNotFound)
	}
	if !c.stale {
		return nil
	}
	st, rev := c.st, c.rev
	migrated := false
	if c.reload {
		raw, r, err := co.store.LoadChat(ctx, c.id)
		if err != nil {
			return storeErr("chatcore: reload "+c.id, err)
		}
		if st, migrated, err = decodeState(raw); err != nil {
			return fmt.Errorf("chatcore: reload %s: %w: %w", c.id, ErrUnavailable, err)
		}
		rev = r
		if st.clearKey == "" {
			st.clearKey = c.st.clearKey
		}
	}
	last, err := co.store.LastIndex(ctx, c.id)
	if err != nil {
		return storeErr("chatcore: reload transcript "+c.id, err)
	}
	switch {
	case last < st.LastIndex && last == 0 && st.LastIndex == 1:
		// Created, but the customer's join never got stored: nobody got an answer.
		co.remove(c)
		return fmt.Errorf("chat %s: creation never completed: %w", c.id, ErrChatNotFound)
	case last < st.LastIndex:
		return fmt.Errorf("chatcore: reload %s: transcript ends at %d, state includes %d: %w", c.id, last, st.LastIndex, ErrUnavailable)
	}
	o := co.opts.Options(st.Service)
	saved := st.LastIndex
	// A document written before chatgate counted transcript bytes (version 1) has none:
	// count them once from the start (the events it includes are counted, not applied
	// again), and store the count with the next save.
	from := st.LastIndex + 1
	recount := st.V < stateVersion && st.LastIndex > 0
	if recount {
		from, st.TranscriptBytes, st.V = 1, 0, stateVersion
		migrated = true
	}
	var late []Event
	for from <= last {
		raws, err := co.store.EventsPage(ctx, c.id, from, co.limits.MaxPageEvents, co.limits.MaxPageBytes)
		if err != nil {
			return storeErr("chatcore: reload transcript "+c.id, err)
		}
		if len(raws) == 0 {
			return fmt.Errorf("chatcore: reload %s: no events from %d, transcript ends at %d: %w", c.id, from, last, ErrUnavailable)
		}
		for _, r := range raws {
			st.TranscriptBytes += int64(len(r.JSON))
			if r.Index <= saved {
				continue
			}
			var ev Event
			if err := json.Unmarshal(r.JSON, &ev); err != nil {
				return fmt.Errorf("chatcore: reload %s: event %d: %w: %w", c.id, r.Index, ErrUnavailable, err)
			}
			ev.Index = r.Index
			apply(&st, &ev, &o)
			if c.delivered >= 0 && ev.Index > c.delivered {
				late = append(late, ev)
			}
		}
		from = raws[len(raws)-1].Index + 1
	}
	before, beforeUD := c.st.propState(), c.st.UserData
	c.st, c.rev, c.savedIndex, c.stale, c.reload = st, rev, saved, false, false
	c.dirty = migrated
	if len(late) > 0 {
		c.out = append(c.out, delivery{events: late})
		co.queueProps(c, before, beforeUD)
	}
	c.delivered = c.st.LastIndex
	co.reschedule(c)
	return nil
}

// remove forgets a chat whose creation never completed and deletes what was stored of it.
// c.mu held.
func (co *Core) remove(c *chat) {
	c.gone = true
	co.mu.Lock()
	if co.chats[c.id] == c {
		delete(co.chats, c.id)
		delete(co.byKey, c.st.KeyHash)
	}
	co.mu.Unlock()
	co.unschedule(c.id)
	ctx, cancel := context.WithTimeout(co.ctx, co.stTO)
	defer cancel()
	if err := co.store.DeleteChat(ctx, c.id); err != nil {
		co.log.Warn("chatcore: deleting an incomplete chat", "chat", c.id, "err", err)
	}
}

// Page is one bounded read of a transcript (EventsPage).
type Page struct {
	// Events are committed events, ascending and gapless from the index asked for.
	Events []Event
	// Next is the index to read from next: after the last event returned, or the
	// transcript's end + 1 when none was (the GMS nextPosition).
	Next int64
	// More says the transcript already holds events from Next on: read again from Next.
	More bool
}

// EventsPage returns the chat's committed events from index from on (§9.7: from 0 returns
// none, 1 starts at the beginning), at most maxEvents of them and maxBytes bytes of event
// JSON (at least one event when there is any). Zero, negative or larger values than
// Limits.MaxPageEvents / MaxPageBytes are clamped to those, so no caller can hold more than
// one page of a transcript. Events being committed at the same time are not included until
// acknowledged. Works on ended chats (their transcript stays readable).
func (co *Core) EventsPage(ctx context.Context, chatID string, from int64, maxEvents, maxBytes int) (Page, error) {
	c, err := co.get(chatID)
	if err != nil {
		return Page{}, err
	}
	c.mu.Lock()
	if err := co.sync(ctx, c); err != nil {
		c.mu.Unlock()
		return Page{}, err
	}
	last := c.st.LastIndex
	c.mu.Unlock()
	co.deliver(c)
	page := Page{Next: last + 1}
	if from <= 0 || from > last {
		return page, nil
	}
	if maxEvents <= 0 || maxEvents > co.limits.MaxPageEvents {
		maxEvents = co.limits.MaxPageEvents
	}
	if maxBytes <= 0 || maxBytes > co.limits.MaxPageBytes {
		maxBytes = co.limits.MaxPageBytes
	}
	// Never past what was committed when the chat was read.
	maxEvents = int(min(int64(maxEvents), last-from+1))
	raws, err := co.store.EventsPage(ctx, chatID, from, maxEvents, maxBytes)
	if err != nil {
		return Page{}, storeErr("chatcore: read transcript "+chatID, err)
	}
	page.Events = make([]Event, 0, len(raws))
	for _, r := range raws {
		if r.Index > last {
			break
		}
		var ev Event
		if err := json.Unmarshal(r.JSON, &ev); err != nil {
			return Page{}, fmt.Errorf("chatcore: read transcript %s: event %d: %w", chatID, r.Index, err)
		}
		ev.Index = r.Index
		page.Events = append(page.Events, ev)
	}
	if n := len(page.Events); n > 0 {
		page.Next = page.Events[n-1].Index + 1
	}
	page.More = page.Next <= last
	return page, nil
}

// validText checks a text against a limit.
func validText(s string, maxLen int, what string) error {
	if len(s) > maxLen {
		return fmt.Errorf("%s of %d bytes (limit %d): %w", what, len(s), maxLen, ErrTooLarge)
	}
	return nil
}

func (co *Core) checkUserData(ud map[string]string, existing map[string]string) error {
	if err := co.userDataFits(ud, existing); err != nil {
		if errors.Is(err, ErrTooLarge) {
			co.refused.userData.Add(1)
		}
		return err
	}
	return nil
}

// userDataFits checks ud merged into existing against the userData limits.
func (co *Core) userDataFits(ud map[string]string, existing map[string]string) error {
	n := len(existing)
	total := 0
	for k, v := range existing {
		if _, replaced := ud[k]; !replaced {
			total += len(k) + len(v)
		}
	}
	for k, v := range ud {
		total += len(k) + len(v)
		if k == "" {
			return fmt.Errorf("empty userData key: %w", ErrInvalid)
		}
		if len(k) > co.limits.MaxUserDataKey || len(v) > co.limits.MaxUserDataVal {
			return fmt.Errorf("userData %.32q: %w", k, ErrTooLarge)
		}
		if _, ok := existing[k]; !ok {
			n++
		}
	}
	if total > co.limits.MaxUserDataBytes {
		return fmt.Errorf("userData of %d bytes (limit %d): %w", total, co.limits.MaxUserDataBytes, ErrTooLarge)
	}
	if n > co.limits.MaxUserDataKeys {
		return fmt.Errorf("userData has %d keys (limit %d): %w", n, co.limits.MaxUserDataKeys, ErrTooLarge)
	}
	return nil
}

func parseBool(s string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	return err == nil && b
}
