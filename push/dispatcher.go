package push

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Resolver finds the provider that sends to a target (Registry implements it).
type Resolver interface {
	Resolve(t Target) (Provider, error)
}

// Outcome is the end of a notification's delivery attempt.
type Outcome string

const (
	OutcomeDelivered Outcome = "delivered"
	// OutcomeDead: the provider said the device or subscription is gone.
	OutcomeDead Outcome = "dead"
	// OutcomeFailed: rejected, no credential, or retries exhausted.
	OutcomeFailed Outcome = "failed"
	// OutcomeDropped: the queue was full when a retry or resend was due, or the dispatcher
	// closed first.
	OutcomeDropped Outcome = "dropped"
)

// Result reports how a notification ended. With Resend, a Result is reported for the first
// delivery and again only if a later resend ends dead or failed.
type Result struct {
	ID       string
	Target   Target
	Outcome  Outcome
	Reason   string
	Attempts int
	Err      error
	// Latency is enqueue → the provider's final answer, on the dispatcher's clock.
	Latency time.Duration
}

// Config configures a Dispatcher. Zero values take the documented defaults.
type Config struct {
	Resolver Resolver
	Clock    Clock        // default SystemClock
	Logger   *slog.Logger // default: discard
	// QueueSize bounds the queue of each provider kind (default 10,000).
	QueueSize int
	// Concurrency is the number of concurrent sends per provider kind (default 32; the
	// worker pool of a kind has exactly this many goroutines).
	Concurrency map[Kind]int
	// MaxAttempts bounds sends of one notification including retries (default 5).
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape exponential backoff (defaults 1 s and 5 min). The
	// n-th retry waits a uniformly jittered duration in [d/2, d] with d = Base·2^(n-1),
	// capped at Max, or the provider's Retry-After if that is longer (capped at
	// MaxRetryAfter, default 1 h).
	BaseBackoff, MaxBackoff, MaxRetryAfter time.Duration
	// SendTimeout bounds one provider call (default 30 s).
	SendTimeout time.Duration
	// DefaultTTL applies to notifications without a TTL (default 24 h).
	DefaultTTL time.Duration
	// MaxPendingAcks bounds notifications awaiting Ack (default 100,000); beyond it a
	// resend request is delivered once without resends (counted as resend_overflow).
	MaxPendingAcks int
	// OnResult is called once per Result, from a dispatcher goroutine; it must not block
	// for long.
	OnResult func(Result)
	// Jitter returns a uniform duration in [0, max); default math/rand/v2.
	Jitter func(max time.Duration) time.Duration
}

// Dispatcher queues and sends notifications. Create with New, stop with Close.
type Dispatcher struct {
	cfg   Config
	log   *slog.Logger
	clock Clock
	stats *Stats

	ctx    context.Context // cancelled when Close gives up waiting
	cancel context.CancelFunc

	idPrefix string
	seq      atomic.Uint64

	mu      sync.Mutex
	closed  bool
	queues  map[Kind]chan *job
	timers  map[*job]Timer  // retry and resend timers, stopped on Close
	pending map[string]*job // awaiting Ack
	waiters map[string][]chan Result
	wg      sync.WaitGroup

	results       chan Result       // to OnResult and listeners
	listeners     []*resultListener // copy-on-write, under mu
	resultsClosed bool              // under mu
	resultsWG     sync.WaitGroup
}

type job struct {
	n        Notification
	enqueued time.Time
	attempts int // sends of the current round
	resends  int
	resend   bool // a resend round (delivered before)
}

// New starts the worker pools.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Resolver == nil {
		return nil, fmt.Errorf("push: Config.Resolver is required: %w", ErrInvalid)
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.QueueSize, 10000)
	def(&cfg.MaxAttempts, 5)
	def(&cfg.MaxPendingAcks, 100000)
	defd(&cfg.BaseBackoff, time.Second)
	defd(&cfg.MaxBackoff, 5*time.Minute)
	defd(&cfg.MaxRetryAfter, time.Hour)
	defd(&cfg.SendTimeout, 30*time.Second)
	defd(&cfg.DefaultTTL, 24*time.Hour)
	if cfg.Jitter == nil {
		cfg.Jitter = func(max time.Duration) time.Duration {
			if max <= 0 {
				return 0
			}
			return time.Duration(mathrand.Int64N(int64(max)))
		}
	}
	var pfx [6]byte
	if _, err := rand.Read(pfx[:]); err != nil {
		return nil, fmt.Errorf("push: id prefix: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dispatcher{
		cfg: cfg, log: cfg.Logger, clock: cfg.Clock, stats: newStats(),
		ctx: ctx, cancel: cancel,
		idPrefix: hex.EncodeToString(pfx[:]) + "-",
		queues:   make(map[Kind]chan *job, len(Kinds)),
		timers:   make(map[*job]Timer),
		pending:  make(map[string]*job),
		waiters:  make(map[string][]chan Result),
	}
	d.results = make(chan Result, cfg.QueueSize)
	d.resultsWG.Add(1)
	go d.reportResults()
	for _, k := range Kinds {
		q := make(chan *job, cfg.QueueSize)
		d.queues[k] = q
		n := cfg.Concurrency[k]
		if n <= 0 {
			n = 32
		}
		for range n {
			d.wg.Add(1)
			go d.worker(k, q)
		}
	}
	return d, nil
}

// Enqueue queues n and returns its ID. It never blocks: a full queue is ErrQueueFull.
func (d *Dispatcher) Enqueue(n Notification) (string, error) {
	return d.enqueue(n, nil)
}

// Deliver enqueues n and waits for its Result (used by liveness checks: a ping's delivery
// result says whether the device is still there).
func (d *Dispatcher) Deliver(ctx context.Context, n Notification) (Result, error) {
	ch := make(chan Result, 1)
	id, err := d.enqueue(n, ch)
	if err != nil {
		return Result{}, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		d.mu.Lock()
		ws := d.waiters[id]
		for i, w := range ws {
			if w == ch {
				d.waiters[id] = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(d.waiters[id]) == 0 {
			delete(d.waiters, id)
		}
		d.mu.Unlock()
		return Result{}, ctx.Err()
	}
}

func (d *Dispatcher) enqueue(n Notification, wait chan Result) (string, error) {
	q, ok := d.queues[n.Target.Kind]
	if !ok {
		return "", fmt.Errorf("push: target kind %q: %w", n.Target.Kind, ErrInvalid)
	}
	if n.ID == "" {
		// IDs are acknowledged by receivers, so they must not be guessable: a random part
		// per notification, plus a per-dispatcher counter to make collisions impossible.
		var rnd [9]byte
		_, _ = rand.Read(rnd[:])
		n.ID = d.idPrefix + base64.RawURLEncoding.EncodeToString(rnd[:]) + strconv.FormatUint(d.seq.Add(1), 36)
	}
	if n.TTL <= 0 {
		n.TTL = d.cfg.DefaultTTL
	}
	j := &job{n: n, enqueued: d.clock.Now()}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return "", ErrClosed
	}
	select {
	case q <- j:
	default:
		d.stats.dropped(n.Target.Kind, "queue_full")
		d.log.Warn("push queue full, notification dropped", "kind", n.Target.Kind, "target", n.Target.String())
		return "", fmt.Errorf("push: %s queue (%d): %w", n.Target.Kind, cap(q), ErrQueueFull)
	}
	d.stats.enqueued(n.Target.Kind)
	if wait != nil {
		d.waiters[n.ID] = append(d.waiters[n.ID], wait)
	}
	if n.Resend != nil && n.Resend.Delay > 0 {
		if len(d.pending) < d.cfg.MaxPendingAcks {
			d.pending[n.ID] = j
		} else {
			d.stats.dropped(n.Target.Kind, "resend_overflow")
		}
	}
	return n.ID, nil
}

// Ack stops resending the notification with this id. It reports whether the id was awaiting
// an acknowledgement.
func (d *Dispatcher) Ack(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	j, ok := d.pending[id]
	if !ok {
		return false
	}
	delete(d.pending, id)
	if t, ok := d.timers[j]; ok {
		t.Stop()
		delete(d.timers, j)
	}
	d.stats.acked(j.n.Target.Kind)
	return true
}

// PendingAcks is the number of notifications awaiting Ack.
func (d *Dispatcher) PendingAcks() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.pending)
}

// Stats returns a snapshot of the counters.
func (d *Dispatcher) Stats() StatsSnapshot { return d.stats.snapshot(d.queueLens()) }

func (d *Dispatcher) queueLens() map[Kind]int {
	m := make(map[Kind]int, len(d.queues))
	for k, q := range d.queues {
		m[k] = len(q)
	}
	return m
}

// Close stops accepting notifications, stops retry and resend timers, lets the workers
// drain what is queued, and waits for them until ctx is done; then it cancels in-flight
// sends. Queued notifications that could not be sent are reported as OutcomeDropped.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	for j, t := range d.timers {
		t.Stop()
		delete(d.timers, j)
	}
	clear(d.pending)
	for _, q := range d.queues {
		close(q)
	}
	d.mu.Unlock()

	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("push: close: %w", ctx.Err())
		d.cancel()
		<-done
	}
	d.cancel()
	d.mu.Lock()
	d.resultsClosed = true
	close(d.results)
	d.mu.Unlock()
	d.resultsWG.Wait()
	return err
}

func (d *Dispatcher) worker(k Kind, q chan *job) {
	defer d.wg.Done()
	for j := range q {
		if d.ctx.Err() != nil {
			d.finish(j, Result{Outcome: OutcomeDropped, Reason: "closed", Err: ErrClosed})
			continue
		}
		d.send(k, j)
	}
}

func (d *Dispatcher) send(k Kind, j *job) {
	if j.resend {
		d.mu.Lock()
		_, still := d.pending[j.n.ID]
		d.mu.Unlock()
		if !still { // acknowledged while queued
			return
		}
	}
	p, err := d.cfg.Resolver.Resolve(j.n.Target)
	if err != nil {
		d.stats.failed(k, "no_provider")
		d.finish(j, Result{Outcome: OutcomeFailed, Reason: "no_provider", Err: err})
		return
	}
	j.attempts++
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.SendTimeout)
	err = p.Send(ctx, &j.n)
	cancel()
	now := d.clock.Now()
	if err == nil {
		d.stats.sent(k, now.Sub(j.enqueued), j.resend)
		d.delivered(j, now)
		return
	}
	var se *SendError
	if !errors.As(err, &se) {
		se = &SendError{Class: ClassTransient, Reason: "error", Err: err}
	}
	d.stats.failed(k, se.Reason)
	switch {
	case se.Class == ClassDead:
		d.log.Info("push target is gone", "target", j.n.Target.String(), "reason", se.Reason)
		d.finish(j, Result{Outcome: OutcomeDead, Reason: se.Reason, Err: err, Latency: now.Sub(j.enqueued)})
	case se.Class == ClassTransient && j.attempts < d.maxAttempts(&j.n) && d.ctx.Err() == nil:
		delay := d.backoff(j.attempts, se.RetryAfter)
		d.stats.retried(k)
		d.log.Debug("push retry scheduled", "target", j.n.Target.String(), "reason", se.Reason, "in", delay)
		d.schedule(j, delay, false)
	default:
		d.log.Warn("push failed", "target", j.n.Target.String(), "reason", se.Reason, "attempts", j.attempts, "err", err)
		d.finish(j, Result{Outcome: OutcomeFailed, Reason: se.Reason, Err: err, Latency: now.Sub(j.enqueued)})
	}
}

func (d *Dispatcher) maxAttempts(n *Notification) int {
	if n.MaxAttempts > 0 && n.MaxAttempts < d.cfg.MaxAttempts {
		return n.MaxAttempts
	}
	return d.cfg.MaxAttempts
}

// backoff is the wait before retry number n (n ≥ 1).
func (d *Dispatcher) backoff(n int, retryAfter time.Duration) time.Duration {
	b := d.cfg.BaseBackoff
	for i := 1; i < n && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.cfg.MaxBackoff)
	delay := b/2 + d.cfg.Jitter(b/2+1)
	if retryAfter > delay {
		delay = min(retryAfter, d.cfg.MaxRetryAfter)
	}
	return delay
}

// schedule re-queues j after delay. resend marks a new resend round.
func (d *Dispatcher) schedule(j *job, delay time.Duration, resend bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		d.finishLocked(j, Result{Outcome: OutcomeDropped, Reason: "closed", Err: ErrClosed})
		return
	}
	d.timers[j] = d.clock.AfterFunc(delay, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if _, ok := d.timers[j]; !ok || d.closed {
			return // stopped by Ack or Close
		}
		delete(d.timers, j)
		if resend {
			if _, ok := d.pending[j.n.ID]; !ok {
				return
			}
			j.resend, j.attempts = true, 0
			j.resends++
			j.enqueued = d.clock.Now()
		}
		select {
		case d.queues[j.n.Target.Kind] <- j:
		default:
			d.stats.dropped(j.n.Target.Kind, "queue_full")
			d.log.Warn("push queue full, retry dropped", "target", j.n.Target.String())
			delete(d.pending, j.n.ID)
			d.finishLocked(j, Result{Outcome: OutcomeDropped, Reason: "queue_full", Err: ErrQueueFull})
		}
	})
}

func (d *Dispatcher) delivered(j *job, now time.Time) {
	// Read the job before scheduling a resend: once scheduled, the timer owns it.
	r := Result{Outcome: OutcomeDelivered, Latency: now.Sub(j.enqueued)}
	wasResend := j.resend
	if !wasResend {
		d.finish(j, r)
	}
	d.mu.Lock()
	_, awaitingAck := d.pending[j.n.ID]
	d.mu.Unlock()
	if awaitingAck {
		if j.resends >= j.n.Resend.MaxAttempts && j.n.Resend.MaxAttempts > 0 {
			d.mu.Lock()
			delete(d.pending, j.n.ID)
			d.mu.Unlock()
			d.stats.dropped(j.n.Target.Kind, "unacknowledged")
		} else {
			d.schedule(j, j.n.Resend.Delay, true)
		}
	}
}

func (d *Dispatcher) finish(j *job, r Result) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.Outcome != OutcomeDelivered {
		delete(d.pending, j.n.ID)
	}
	d.finishLocked(j, r)
}

// finishLocked reports r; d.mu is held. OnResult runs on the dispatcher's result goroutine
// (bounded queue), so a slow callback cannot hold the lock or a worker.
func (d *Dispatcher) finishLocked(j *job, r Result) {
	r.ID, r.Target, r.Attempts = j.n.ID, j.n.Target, j.attempts
	if r.Outcome == OutcomeDead {
		d.stats.dead(j.n.Target.Kind)
	}
	ws := d.waiters[j.n.ID]
	delete(d.waiters, j.n.ID)
	for _, w := range ws {
		w <- r // buffered, one result per waiter
	}
	if d.resultsClosed || (d.cfg.OnResult == nil && len(d.listeners) == 0) {
		return
	}
	select {
	case d.results <- r:
	default:
		d.stats.dropped(j.n.Target.Kind, "result_overflow")
		d.log.Warn("push result queue full, result not reported", "id", r.ID, "outcome", r.Outcome)
	}
}

func (d *Dispatcher) reportResults() {
	defer d.resultsWG.Done()
	for r := range d.results {
		if d.cfg.OnResult != nil {
			d.cfg.OnResult(r)
		}
		d.mu.Lock()
		ls := d.listeners
		d.mu.Unlock()
		for _, l := range ls {
			l.f(r)
		}
	}
}

type resultListener struct{ f func(Result) }

// OnResult adds a result listener besides Config.OnResult (pushlink uses it to learn of
// dead subscriptions without construction-order games). It runs on the result goroutine
// and must not block; remove unregisters it.
func (d *Dispatcher) OnResult(f func(Result)) (remove func()) {
	l := &resultListener{f: f}
	d.mu.Lock()
	d.listeners = append(slices.Clip(d.listeners), l)
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		d.listeners = slices.DeleteFunc(slices.Clone(d.listeners), func(x *resultListener) bool { return x == l })
		d.mu.Unlock()
	}
}
