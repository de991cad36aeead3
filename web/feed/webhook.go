package feed

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Webhook header names (docs/workflow.md "Webhooks").
const (
	HeaderSignature = "X-Chatgate-Signature"
	HeaderTimestamp = "X-Chatgate-Timestamp"
	HeaderDelivery  = "X-Chatgate-Delivery"
	HeaderEndpoint  = "X-Chatgate-Webhook"
)

// Defaults of WebhookConfig.
const (
	WebhookBucket         = "CHATGATE_WEBHOOKS"
	DeadStream            = "FEED_DEAD"
	DefaultMaxAttempts    = 10
	DefaultBackoffBase    = time.Second
	DefaultBackoffMax     = time.Minute
	DefaultWebhookTimeout = 10 * time.Second
	DefaultMaxEndpoints   = 32
	DefaultDeadMaxBytes   = 256 << 20
)

// Errors of the webhook registry.
var (
	ErrEndpointNotFound = errors.New("feed: no such webhook endpoint")
	ErrInvalidEndpoint  = errors.New("feed: invalid webhook endpoint")
	ErrTooManyEndpoints = errors.New("feed: too many webhook endpoints")
)

// Endpoint is one webhook subscription.
type Endpoint struct {
	ID     string `json:"id"`
	URL    string `json:"url"`
	Secret string `json:"secret,omitempty"`
	Filter
	Created time.Time `json:"created"`
}

// WebhookConfig configures OpenWebhooks.
type WebhookConfig struct {
	Feed *Feed // required
	// Replicas of the bucket and the dead-letter stream (0: 1).
	Replicas int
	// MaxAttempts is how often one record is tried before it goes to the dead letters.
	MaxAttempts int
	// BackoffBase doubles after each failed attempt, up to BackoffMax.
	BackoffBase, BackoffMax time.Duration
	// Timeout bounds one HTTP delivery.
	Timeout time.Duration
	// MaxEndpoints bounds the subscriptions (each holds a durable consumer and a goroutine).
	MaxEndpoints int
	// Transport for deliveries (nil: a clone of http.DefaultTransport).
	Transport http.RoundTripper
	// Now stamps the timestamp header (nil: time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Webhooks delivers the feed to subscribed HTTP endpoints: one durable JetStream consumer
// and one goroutine per endpoint, one record at a time, so an endpoint sees each chat's
// records in feed order.
type Webhooks struct {
	cfg    WebhookConfig
	feed   *Feed
	kv     jetstream.KeyValue
	dead   jetstream.Stream
	client *http.Client
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex // guards runs and stats; never held while calling out
	runs  map[string]*run
	stats map[string]*hookStats // by endpoint id, from its first dispatch until Delete
}

type run struct {
	ep     Endpoint
	cancel context.CancelFunc
	done   chan struct{}
}

// OpenWebhooks opens the subscription bucket and the dead-letter stream and starts a
// dispatcher for every stored endpoint. Close stops them.
func OpenWebhooks(ctx context.Context, cfg WebhookConfig) (*Webhooks, error) {
	if cfg.Feed == nil {
		return nil, fmt.Errorf("%w: Feed is required", ErrConfig)
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = DefaultBackoffBase
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = DefaultBackoffMax
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultWebhookTimeout
	}
	if cfg.MaxEndpoints <= 0 {
		cfg.MaxEndpoints = DefaultMaxEndpoints
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tr := cfg.Transport
	if tr == nil {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	js := cfg.Feed.js
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: WebhookBucket, Description: "chatgate webhook subscriptions", Storage: jetstream.FileStorage,
		Replicas: cfg.Replicas, History: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("webhook bucket: %w", err)
	}
	dead, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: DeadStream, Description: "chatgate webhook dead letters", Subjects: []string{"feeddead.>"},
		Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld, MaxBytes: DefaultDeadMaxBytes,
		MaxAge: 30 * 24 * time.Hour, Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("dead-letter stream: %w", err)
	}
	w := &Webhooks{
		cfg: cfg, feed: cfg.Feed, kv: kv, dead: dead, log: cfg.Logger, runs: map[string]*run{}, stats: map[string]*hookStats{},
		client: &http.Client{
			Transport: tr, Timeout: cfg.Timeout,
			// A redirect is not a delivery: the subscriber must register the final URL.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	w.ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	eps, err := w.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, ep := range eps {
		w.start(ep)
	}
	return w, nil
}

// Close stops every dispatcher; a record being delivered is not acknowledged and is
// delivered again after the next start (at least once).
func (w *Webhooks) Close() {
	w.cancel()
	w.wg.Wait()
}

// ackWait is how long JetStream waits for an acknowledgement before redelivering: longer
// than one attempt plus the longest backoff, and refreshed before each attempt, so a record
// is redelivered only when its dispatcher is gone (a crash).
func (w *Webhooks) ackWait() time.Duration { return w.cfg.Timeout + w.cfg.BackoffMax + 5*time.Second }

func consumerName(id string) string { return "webhook_" + id }

// Create validates and stores a subscription and starts its dispatcher, which delivers the
// records stored from now on. A missing secret is generated; the returned endpoint carries
// it (the only time the API shows it).
func (w *Webhooks) Create(ctx context.Context, ep Endpoint) (Endpoint, error) {
	u, err := url.Parse(ep.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Endpoint{}, fmt.Errorf("%w: url must be an absolute http or https URL", ErrInvalidEndpoint)
	}
	if len(ep.URL) > 2048 || len(ep.Secret) > 256 || len(ep.Types) > 64 || len(ep.Services) > 256 {
		return Endpoint{}, fmt.Errorf("%w: url over 2048 bytes, secret over 256, or over 64 types / 256 services", ErrInvalidEndpoint)
	}
	if ep.Secret != "" && len(ep.Secret) < 16 {
		return Endpoint{}, fmt.Errorf("%w: secret must be at least 16 characters", ErrInvalidEndpoint)
	}
	keys, err := w.ids(ctx)
	if err != nil {
		return Endpoint{}, err
	}
	if len(keys) >= w.cfg.MaxEndpoints {
		return Endpoint{}, fmt.Errorf("%w: at most %d", ErrTooManyEndpoints, w.cfg.MaxEndpoints)
	}
	ep.ID = randomHex(8)
	if ep.Secret == "" {
		ep.Secret = "whsec_" + randomHex(24)
	}
	ep.Created = w.cfg.Now().UTC().Truncate(time.Millisecond)
	b, _ := json.Marshal(ep)
	// The consumer first, at the stream's current end: the endpoint gets what is recorded
	// after it was created, also across a restart between the two writes.
	if err := w.consumer(ctx, ep.ID); err != nil {
		return Endpoint{}, err
	}
	if _, err := w.kv.Create(ctx, ep.ID, b); err != nil {
		return Endpoint{}, fmt.Errorf("store webhook: %w", err)
	}
	w.start(ep)
	return ep, nil
}

func (w *Webhooks) consumer(ctx context.Context, id string) error {
	_, err := w.feed.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: consumerName(id), FilterSubject: DefaultSubjectPrefix + ".>",
		DeliverPolicy: jetstream.DeliverNewPolicy, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: w.ackWait(), MaxAckPending: 1, MaxDeliver: -1,
	})
	if err != nil {
		return fmt.Errorf("webhook consumer: %w", err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (w *Webhooks) ids(ctx context.Context) ([]string, error) {
	keys, err := w.kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return keys, nil
}

// List returns the subscriptions, secrets included (callers hide them).
func (w *Webhooks) List(ctx context.Context) ([]Endpoint, error) {
	keys, err := w.ids(ctx)
	if err != nil {
		return nil, err
	}
	slices.Sort(keys)
	var out []Endpoint
	for _, k := range keys {
		ep, err := w.Get(ctx, k)
		if errors.Is(err, ErrEndpointNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ep)
	}
	return out, nil
}

// Get returns one subscription.
func (w *Webhooks) Get(ctx context.Context, id string) (Endpoint, error) {
	if !validID(id) {
		return Endpoint{}, ErrEndpointNotFound
	}
	e, err := w.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Endpoint{}, ErrEndpointNotFound
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("read webhook: %w", err)
	}
	var ep Endpoint
	if err := json.Unmarshal(e.Value(), &ep); err != nil {
		return Endpoint{}, fmt.Errorf("webhook %s: %w", id, err)
	}
	return ep, nil
}

func validID(id string) bool {
	if len(id) != 16 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// Delete stops and removes a subscription, its consumer and its dead letters.
func (w *Webhooks) Delete(ctx context.Context, id string) error {
	if _, err := w.Get(ctx, id); err != nil {
		return err
	}
	w.stop(id)
	if err := w.kv.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	if err := w.feed.stream.DeleteConsumer(ctx, consumerName(id)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete webhook consumer: %w", err)
	}
	if err := w.dead.Purge(ctx, jetstream.WithPurgeSubject(deadSubject(id))); err != nil {
		return fmt.Errorf("purge dead letters: %w", err)
	}
	return nil
}

// Status is an endpoint's delivery state.
type Status struct {
	// Pending counts the records not yet acknowledged by the endpoint (filtered-out ones
	// included until the dispatcher passes them).
	Pending uint64 `json:"pending"`
	// Delivered is the feed sequence of the last record passed (delivered, filtered out or
	// dead-lettered).
	Delivered uint64 `json:"delivered"`
	// DeadLetters counts the records that exhausted their attempts and wait for a replay.
	DeadLetters uint64 `json:"deadLetters"`
}

// Status reads an endpoint's consumer and dead letters.
func (w *Webhooks) Status(ctx context.Context, id string) (Status, error) {
	if _, err := w.Get(ctx, id); err != nil {
		return Status{}, err
	}
	c, err := w.feed.stream.Consumer(ctx, consumerName(id))
	if err != nil {
		return Status{}, fmt.Errorf("webhook consumer: %w", err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("webhook consumer: %w", err)
	}
	si, err := w.dead.Info(ctx, jetstream.WithSubjectFilter(deadSubject(id)))
	if err != nil {
		return Status{}, fmt.Errorf("dead letters: %w", err)
	}
	return Status{
		Pending: ci.NumPending + uint64(ci.NumAckPending), Delivered: ci.AckFloor.Stream,
		DeadLetters: si.State.Subjects[deadSubject(id)],
	}, nil
}

func (w *Webhooks) start(ep Endpoint) {
	ctx, cancel := context.WithCancel(w.ctx)
	r := &run{ep: ep, cancel: cancel, done: make(chan struct{})}
	w.mu.Lock()
	old := w.runs[ep.ID]
	w.runs[ep.ID] = r
	if w.stats[ep.ID] == nil {
		w.stats[ep.ID] = newHookStats()
	}
	w.mu.Unlock()
	if old != nil {
		old.cancel()
		<-old.done
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer close(r.done)
		w.dispatch(ctx, ep)
	}()
}

func (w *Webhooks) stop(id string) {
	w.mu.Lock()
	r := w.runs[id]
	delete(w.runs, id)
	delete(w.stats, id)
	w.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
	}
}

// dispatch delivers one endpoint's records until ctx is done.
func (w *Webhooks) dispatch(ctx context.Context, ep Endpoint) {
	log := w.log.With("webhook", ep.ID)
	var cons jetstream.Consumer
	for cons == nil {
		if err := w.consumer(ctx, ep.ID); err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("webhook: consumer not ready, retrying", "err", err)
			if !sleepCtx(ctx, w.cfg.BackoffBase) {
				return
			}
			continue
		}
		c, err := w.feed.stream.Consumer(ctx, consumerName(ep.ID))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("webhook: consumer not ready, retrying", "err", err)
			if !sleepCtx(ctx, w.cfg.BackoffBase) {
				return
			}
			continue
		}
		cons = c
	}
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		m, err := cons.Next(jetstream.FetchContext(wctx))
		cancel()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
				log.Warn("webhook: fetch failed", "err", err)
				sleepCtx(ctx, w.cfg.BackoffBase)
			}
			continue
		}
		md, err := m.Metadata()
		if err != nil {
			log.Error("webhook: message without metadata", "err", err)
			_ = m.Term()
			continue
		}
		rec, err := decodeRecord(m.Data(), md.Sequence.Stream, md.Timestamp)
		if err != nil {
			log.Error("webhook: undecodable feed record skipped", "seq", md.Sequence.Stream, "err", err)
			_ = m.Ack()
			continue
		}
		if !ep.Match(rec) {
			_ = m.Ack()
			continue
		}
		w.deliver(ctx, ep, m, rec, log)
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, nats.ErrTimeout) || errors.As(err, &t) && t.Timeout()
}

// deliver tries one record until it is accepted or its attempts are used up (then it goes
// to the dead letters); only then is it acknowledged, so a stop or a crash leaves it to be
// delivered again.
func (w *Webhooks) deliver(ctx context.Context, ep Endpoint, m jetstream.Msg, rec Record, log *slog.Logger) {
	body, _ := json.Marshal(rec)
	st := w.statsOf(ep.ID)
	var last error
	for attempt := 1; attempt <= w.cfg.MaxAttempts; attempt++ {
		_ = m.InProgress()
		if attempt > 1 {
			st.retries.Add(1)
		}
		last = w.post(ctx, ep, rec.Seq, body)
		if last == nil || ctx.Err() == nil { // a stop is not the endpoint's failure
			st.count(last, rec)
		}
		if last == nil {
			if err := m.DoubleAck(ctx); err != nil && ctx.Err() == nil {
				log.Warn("webhook: ack not confirmed; the record may be delivered again", "seq", rec.Seq, "err", err)
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		log.Info("webhook: delivery failed", "seq", rec.Seq, "attempt", attempt, "err", last)
		if attempt < w.cfg.MaxAttempts && !sleepCtx(ctx, w.backoff(attempt)) {
			return
		}
	}
	if err := w.deadLetter(ctx, ep.ID, body, last, w.cfg.MaxAttempts); err != nil {
		log.Error("webhook: dead letter not stored; will retry the record", "seq", rec.Seq, "err", err)
		_ = m.Nak()
		return
	}
	st.deadLettered.Add(1)
	log.Warn("webhook: record dead-lettered", "seq", rec.Seq, "chat", rec.ChatID, "err", last)
	_ = m.DoubleAck(ctx)
}

// backoff is the wait after the attempt-th failure: BackoffBase doubled per attempt,
// capped at BackoffMax.
func (w *Webhooks) backoff(attempt int) time.Duration {
	d := w.cfg.BackoffBase
	for i := 1; i < attempt && d < w.cfg.BackoffMax; i++ {
		d *= 2
	}
	return min(d, w.cfg.BackoffMax)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Sign is the signature header value for body sent at timestamp ts (Unix seconds):
// "v1=" + hex(HMAC-SHA256(secret, ts + "." + body)).
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a delivery's signature and that its timestamp is within tolerance of now
// (replay protection); receivers in Go can use it as is.
func Verify(secret, signature, timestamp string, body []byte, now time.Time, tolerance time.Duration) bool {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return false
	}
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature))
}

// ErrRejected says the endpoint answered something other than 2xx.
var ErrRejected = errors.New("feed: webhook endpoint refused the delivery")

func (w *Webhooks) post(ctx context.Context, ep Endpoint, seq uint64, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := w.cfg.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "chatgate-webhook/1")
	req.Header.Set(HeaderEndpoint, ep.ID)
	req.Header.Set(HeaderDelivery, strconv.FormatUint(seq, 10))
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(ep.Secret, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: HTTP %d", ErrRejected, resp.StatusCode)
	}
	return nil
}

func deadSubject(id string) string { return "feeddead." + id }

func (w *Webhooks) deadLetter(ctx context.Context, id string, body []byte, cause error, attempts int) error {
	msg := &nats.Msg{Subject: deadSubject(id), Data: body, Header: nats.Header{
		"Chatgate-Error":    {truncate(fmt.Sprint(cause), 512)},
		"Chatgate-Attempts": {strconv.Itoa(attempts)},
	}}
	_, err := w.feed.js.PublishMsg(ctx, msg)
	return err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// DeadLetter is a record that exhausted its attempts.
type DeadLetter struct {
	// ID is the dead letter's own sequence (in FEED_DEAD).
	ID       uint64 `json:"id"`
	Error    string `json:"error"`
	Attempts int    `json:"attempts"`
	Record   Record `json:"record"`
}

// DeadLetters returns up to limit dead letters of an endpoint, oldest first.
func (w *Webhooks) DeadLetters(ctx context.Context, id string, limit int) ([]DeadLetter, error) {
	if _, err := w.Get(ctx, id); err != nil {
		return nil, err
	}
	c, err := w.dead.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{deadSubject(id)}})
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	batch, err := c.FetchNoWait(limit)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	out := []DeadLetter{}
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			continue
		}
		var rec Record
		if err := json.Unmarshal(m.Data(), &rec); err != nil {
			continue
		}
		n, _ := strconv.Atoi(m.Headers().Get("Chatgate-Attempts"))
		out = append(out, DeadLetter{ID: md.Sequence.Stream, Error: m.Headers().Get("Chatgate-Error"), Attempts: n, Record: rec})
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	return out, nil
}

// ReplayResult says what a replay did.
type ReplayResult struct {
	Replayed int `json:"replayed"`
	Failed   int `json:"failed"`
	// Error is the first failure's cause.
	Error string `json:"error,omitempty"`
}

// Replay delivers up to limit dead letters of an endpoint once each, oldest first; a
// delivered one leaves the list, a failed one stays. Replayed records arrive after records
// the endpoint has received since (the receiver orders by seq / lastIndex if it must).
func (w *Webhooks) Replay(ctx context.Context, id string, limit int) (ReplayResult, error) {
	ep, err := w.Get(ctx, id)
	if err != nil {
		return ReplayResult{}, err
	}
	dls, err := w.DeadLetters(ctx, id, limit)
	if err != nil {
		return ReplayResult{}, err
	}
	var res ReplayResult
	st := w.statsOf(id)
	for _, d := range dls {
		body, _ := json.Marshal(d.Record)
		if err := w.post(ctx, ep, d.Record.Seq, body); err != nil {
			st.replayFailed.Add(1)
			res.Failed++
			if res.Error == "" {
				res.Error = err.Error()
			}
			continue
		}
		st.replayed.Add(1)
		if err := w.dead.DeleteMsg(ctx, d.ID); err != nil {
			return res, fmt.Errorf("remove replayed dead letter: %w", err)
		}
		res.Replayed++
	}
	return res, nil
}

// public hides an endpoint's secret.
func (ep Endpoint) public() Endpoint {
	ep.Secret = ""
	ep.Types, ep.Services = slices.Clone(ep.Types), slices.Clone(ep.Services)
	return ep
}

// statsOf returns an endpoint's counters (kept apart when the endpoint is gone meanwhile:
// they are then simply not shown).
func (w *Webhooks) statsOf(id string) *hookStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.stats[id]; s != nil {
		return s
	}
	return newHookStats()
}

// count records one attempt's outcome.
func (s *hookStats) count(err error, rec Record) {
	switch {
	case err == nil:
		s.delivered.Add(1)
		if !rec.Stored.IsZero() {
			s.observeLag(time.Since(rec.Stored))
		}
	case errors.Is(err, ErrRejected):
		s.rejected.Add(1)
	default:
		s.failed.Add(1)
	}
}

// Stats returns every running endpoint's counters, by endpoint id.
func (w *Webhooks) Stats() map[string]WebhookStats {
	w.mu.Lock()
	all := make(map[string]*hookStats, len(w.stats))
	for id, s := range w.stats {
		all[id] = s
	}
	w.mu.Unlock()
	out := make(map[string]WebhookStats, len(all))
	for id, s := range all {
		out[id] = s.snapshot()
	}
	return out
}

// DeadLetterCounts reads how many dead letters each endpoint has now (one stream lookup).
func (w *Webhooks) DeadLetterCounts(ctx context.Context) (map[string]uint64, error) {
	si, err := w.dead.Info(ctx, jetstream.WithSubjectFilter("feeddead.>"))
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	out := map[string]uint64{}
	for subj, n := range si.State.Subjects {
		out[strings.TrimPrefix(subj, "feeddead.")] = n
	}
	return out, nil
}
