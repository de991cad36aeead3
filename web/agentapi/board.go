package agentapi

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chatgate/chatgate/bayeux"
	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
)

// The supervisor's live wall board: /agent/{id}/board carries the supervisor lists (queues
// with their longest wait, agents, live chats) as one message, a snapshot right after the
// subscribe and then the whole board again whenever something changed, at most once per
// BoardInterval, plus the chart's samples (messages per second, open chats, waiting chats
// of the supervisor's queues).
//
// Why whole boards, not diffs: a board replaces the previous one, so a message dropped by
// a full Bayeux queue (the oldest goes first) loses nothing the next one does not repair,
// and the server keeps no per-supervisor history of what it sent. Why coalesced: a busy
// node commits many events a second; the board is rebuilt at most once per interval
// whatever their number, so the work and the bytes per supervisor are bounded by time, not
// by traffic, and nothing queues per change (a change only sets a flag).
//
// One goroutine (run) builds and delivers every board; the core listener, presence and
// routing only mark the board dirty and wake it. Lock order: board.mu and API.mu are never
// held together, and neither is held while calling the core, the router, the accounts or
// Bayeux.

// Board defaults.
const (
	DefaultBoardInterval  = time.Second
	DefaultSampleInterval = 10 * time.Second
	// BoardHistory is how far back the samples of a snapshot go.
	BoardHistory = time.Hour
)

// Board message types.
const (
	BoardSnapshot = "snapshot"
	BoardUpdate   = "update"
)

func channelBoard(id string) string { return "/agent/" + id + "/board" }

// BoardQueue is a queue on the board: the REST list's counts plus routing's view.
type BoardQueue struct {
	QueueInfo
	// Offered counts the queue's chats being offered to an agent now.
	Offered int `json:"offered"`
	// LongestWaitSince is when the queue's longest-waiting chat (waiting or being offered)
	// entered it; absent when none waits.
	LongestWaitSince *time.Time `json:"longestWaitSince,omitempty"`
}

// Sample is one point of the board's chart, summed over the supervisor's queues.
type Sample struct {
	At                time.Time `json:"at"`
	MessagesPerSecond float64   `json:"messagesPerSecond"` // Message events committed since the previous sample, per second
	Open              int       `json:"open"`              // live chats
	Waiting           int       `json:"waiting"`           // live chats without an agent
}

// Board is what /agent/{id}/board carries.
type Board struct {
	Type   string       `json:"type"` // snapshot (after a subscribe) or update
	At     time.Time    `json:"at"`
	Queues []BoardQueue `json:"queues"`
	Agents []Presence   `json:"agents"`
	Chats  []ChatInfo   `json:"chats"`
	// Samples: in a snapshot the last hour; in an update those taken since the session's
	// previous board (usually none or one).
	Samples []Sample `json:"samples"`
	// IntervalMs and SampleIntervalMs say how often boards and samples may come.
	IntervalMs       int64 `json:"intervalMs"`
	SampleIntervalMs int64 `json:"sampleIntervalMs"`
}

// queueCounts is one queue's part of a sample.
type queueCounts struct{ open, waiting, messages int }

// sample is a node-wide sample by queue; a supervisor's Sample sums its queues.
type sample struct {
	at      time.Time
	seconds float64 // since the previous sample
	queues  map[string]queueCounts
}

// boardSub is a session subscribed to its supervisor's board.
type boardSub struct {
	accountID string
	token     string    // the session's token (sessionToken), authenticated again before each board
	snapshot  bool      // owes a snapshot
	sent      time.Time // newest sample sent
}

type board struct {
	a          *API
	interval   time.Duration
	sampleStep time.Duration
	wake       chan struct{} // capacity 1: a wake-up pending is enough
	stop, done chan struct{}

	mu         sync.Mutex
	subs       map[string]*boardSub // session id → subscriber
	dirty      bool
	lastFlush  time.Time
	flushTimer Timer
	sampleDue  bool
	sampleTmr  Timer
	samples    []sample       // oldest first, at most BoardHistory
	messages   map[string]int // queue → Message events since the last sample
	lastSample time.Time
	closed     bool
}

func newBoard(a *API) *board {
	b := &board{
		a: a, interval: a.cfg.BoardInterval, sampleStep: a.cfg.SampleInterval,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		subs: map[string]*boardSub{}, messages: map[string]int{}, sampleDue: true,
	}
	go b.run()
	b.poke() // the first sample at once, so a snapshot always has one
	return b
}

func (b *board) poke() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// close stops the goroutine and the timers; boards are no longer built.
func (b *board) close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	for _, t := range []Timer{b.flushTimer, b.sampleTmr} {
		if t != nil {
			t.Stop()
		}
	}
	b.mu.Unlock()
	close(b.stop)
	<-b.done
}

// touch marks the board changed (only when someone watches it).
func (b *board) touch() {
	b.mu.Lock()
	if len(b.subs) == 0 || b.closed {
		b.mu.Unlock()
		return
	}
	b.dirty = true
	b.mu.Unlock()
	b.poke()
}

// countEvent counts a committed Message event for the chart.
func (b *board) countEvent(queue string, ev chatcore.Event) {
	if ev.Type != chatcore.EventMessage {
		return
	}
	b.mu.Lock()
	b.messages[queue]++
	b.mu.Unlock()
}

func (b *board) subscribe(sessionID, accountID, token string) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.subs[sessionID] = &boardSub{accountID: accountID, token: token, snapshot: true}
	b.mu.Unlock()
	b.poke()
}

func (b *board) unsubscribe(sessionID string) {
	b.mu.Lock()
	delete(b.subs, sessionID)
	b.mu.Unlock()
}

func (b *board) subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

func (b *board) run() {
	defer close(b.done)
	for {
		select {
		case <-b.stop:
			return
		case <-b.wake:
		}
		b.step()
	}
}

// target is one delivery a step makes.
type target struct {
	session string
	sub     boardSub // a copy
}

// step takes a due sample, then delivers the snapshots owed and, when the board changed
// and the interval since the last flush has passed, an update to every subscriber; a
// change inside the interval arms one timer for its end.
func (b *board) step() {
	now := b.a.clock.Now()
	b.mu.Lock()
	due := b.sampleDue && !b.closed
	b.sampleDue = false
	b.mu.Unlock()
	if due {
		b.takeSample(now)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	flush := false
	if b.dirty && len(b.subs) > 0 {
		if next := b.lastFlush.Add(b.interval); !now.Before(next) {
			flush, b.dirty, b.lastFlush = true, false, now
		} else if b.flushTimer == nil {
			b.flushTimer = b.a.clock.AfterFunc(next.Sub(now), func() {
				b.mu.Lock()
				b.flushTimer = nil
				b.mu.Unlock()
				b.poke()
			})
		}
	}
	var targets []target
	for id, s := range b.subs {
		if s.snapshot || flush {
			targets = append(targets, target{id, *s})
			s.snapshot = false
		}
	}
	samples := slices.Clone(b.samples)
	b.mu.Unlock()
	if len(targets) > 0 {
		b.deliver(now, targets, samples)
	}
}

// deliver builds each supervisor's board once and sends it to its sessions.
func (b *board) deliver(now time.Time, targets []target, samples []sample) {
	ctx := context.Background()
	boards := map[string]*Board{}
	accts := map[string]accounts.Account{}
	for _, t := range targets {
		p, err := b.a.cfg.Accounts.Authenticate(ctx, t.sub.token)
		if err != nil || p.Account.ID != t.sub.accountID || p.Account.Role != accounts.RoleSupervisor {
			// A revoked token, a deleted account or a changed role ends the board.
			b.unsubscribe(t.session)
			continue
		}
		bd := boards[t.sub.accountID]
		if bd == nil {
			bd = b.build(now, p.Account)
			boards[t.sub.accountID] = bd
			accts[t.sub.accountID] = p.Account
		}
		msg := *bd
		msg.Type = BoardUpdate
		from := t.sub.sent
		if t.sub.snapshot {
			msg.Type = BoardSnapshot
			from = now.Add(-BoardHistory)
		}
		msg.Samples = []Sample{}
		newest := t.sub.sent
		for _, s := range samples {
			if s.at.After(from) {
				msg.Samples = append(msg.Samples, sumSample(s, accts[t.sub.accountID]))
				newest = s.at
			}
		}
		raw, err := json.Marshal(msg)
		if err != nil {
			continue
		}
		if b.a.cfg.Sessions == nil {
			continue
		}
		if err := b.a.cfg.Sessions.Deliver(ctx, t.session, channelBoard(t.sub.accountID), json.RawMessage(raw)); err != nil {
			b.unsubscribe(t.session)
			continue
		}
		b.a.st.boards.Add(1)
		b.mu.Lock()
		if s := b.subs[t.session]; s != nil && newest.After(s.sent) {
			s.sent = newest
		}
		b.mu.Unlock()
	}
}

// build is a supervisor's board now: the same lists as the REST supervisor endpoints.
func (b *board) build(now time.Time, acct accounts.Account) *Board {
	a := b.a
	bd := &Board{
		At: now, Agents: a.presences(), Chats: a.liveChats(acct),
		IntervalMs: b.interval.Milliseconds(), SampleIntervalMs: b.sampleStep.Milliseconds(),
	}
	for _, q := range a.queues(acct) {
		bq := BoardQueue{QueueInfo: q}
		if a.cfg.Router != nil {
			for _, w := range a.cfg.Router.Waiting(q.Name) {
				if w.OfferedTo != "" {
					bq.Offered++
				}
				if bq.LongestWaitSince == nil || w.Since.Before(*bq.LongestWaitSince) {
					since := w.Since
					bq.LongestWaitSince = &since
				}
			}
		}
		bd.Queues = append(bd.Queues, bq)
	}
	if bd.Queues == nil {
		bd.Queues = []BoardQueue{}
	}
	return bd
}

// sumSample is a node-wide sample as a supervisor sees it: the sum over its queues (all
// for a supervisor without queues).
func sumSample(s sample, acct accounts.Account) Sample {
	out := Sample{At: s.at}
	msgs := 0
	for q, c := range s.queues {
		if len(acct.Queues) > 0 && !slices.Contains(acct.Queues, q) {
			continue
		}
		out.Open += c.open
		out.Waiting += c.waiting
		msgs += c.messages
	}
	if s.seconds > 0 {
		out.MessagesPerSecond = float64(msgs) / s.seconds
	}
	return out
}

// takeSample counts the live chats by queue and the messages since the previous sample,
// keeps the last hour, marks the board changed and arms the next sample.
func (b *board) takeSample(now time.Time) {
	a := b.a
	qs := map[string]queueCounts{}
	for _, id := range a.cfg.Chats.ChatIDs() {
		v, err := a.cfg.Chats.Chat(id)
		if err != nil || v.Ended {
			continue
		}
		q := a.cfg.QueueOf(v.Service)
		c := qs[q]
		c.open++
		if !agentPresent(v) {
			c.waiting++
		}
		qs[q] = c
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	for q, n := range b.messages {
		c := qs[q]
		c.messages = n
		qs[q] = c
	}
	clear(b.messages)
	s := sample{at: now, queues: qs}
	if !b.lastSample.IsZero() {
		s.seconds = now.Sub(b.lastSample).Seconds()
	}
	b.lastSample = now
	b.samples = append(b.samples, s)
	cut := 0
	for cut < len(b.samples) && !b.samples[cut].at.After(now.Add(-BoardHistory)) {
		cut++
	}
	b.samples = slices.Delete(b.samples, 0, cut)
	if len(b.subs) > 0 {
		b.dirty = true
	}
	b.sampleTmr = a.clock.AfterFunc(b.sampleStep, func() {
		b.mu.Lock()
		b.sampleDue = true
		b.mu.Unlock()
		b.poke()
	})
}

// Subscription is the Bayeux server's subscription hook (bayeux.Server.OnSubscription): a
// supervisor's session that subscribed to its own /agent/{id}/board gets a snapshot, then
// updates; an unsubscribe stops them. The Policy has already refused everyone else.
func (a *API) Subscription(info bayeux.SessionInfo, channel string, subscribed bool) {
	if !subscribed {
		if b, ok := strings.CutSuffix(channel, "/board"); ok && strings.HasPrefix(b, "/agent/") {
			a.board.unsubscribe(info.ID)
		}
		return
	}
	a.mu.Lock()
	id := a.bySession[info.ID]
	a.mu.Unlock()
	if id == "" || channel != channelBoard(id) {
		return
	}
	tok, _ := sessionToken(info)
	a.board.subscribe(info.ID, id, tok)
}
