package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The GMS modes drive the GMS Chat API v2 of the whole chatgate binary as widgets do:
//
//	gms-rest     customers create a chat (requestChat) and send messages (sendMessage) over
//	             REST form posts; a message is acknowledged by HTTP 200 statusCode 0
//	gms-cometd   the same over CometD (-transport websocket or long-polling): handshake,
//	             connect loop, subscribe /service/chatV2/{svc}, publish operations; a message
//	             is acknowledged when its Message event is pushed back on the channel
//	gms-idle     create -chats async chats over REST and read the server's memory per chat
//	gms-startup  (optionally seed -chats chats, then) restart -bin on -data and time start → ready
//
// gms-rest and gms-cometd run in two phases per process: every customer creates its chat
// (all customers concurrently, one operation in flight each), then every customer sends
// -messages messages one after the other. Creations/s and messages/s are counted over their
// own phase. -duration caps the whole run: no operation starts after it.

const (
	gmsOpTimeout = 30 * time.Second // one operation, request to acknowledgement
)

// statusError is a GMS failure answer: statusCode 1 (retry) or 2 (+ errors[0].code, 0 when the
// answer is the chat-ended one).
type statusError struct {
	HTTP, Status, Code int
}

func (e *statusError) Error() string {
	if e.HTTP != 0 {
		return fmt.Sprintf("HTTP %d statusCode %d error code %d", e.HTTP, e.Status, e.Code)
	}
	return fmt.Sprintf("statusCode %d error code %d", e.Status, e.Code)
}

// failureKind names a failed operation for the event counts, e.g. "send-failed:status-1-code-600".
func failureKind(op string, err error) string {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%s-failed:status-%d-code-%d", op, se.Status, se.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return op + "-failed:no-ack-within-30s"
	case errors.Is(err, errUnsuccessful):
		return op + "-failed:publish-refused"
	default:
		return op + "-failed:other"
	}
}

func isGMSMode(mode string) bool { return strings.HasPrefix(mode, "gms-") }

var gmsModes = []string{"gms-rest", "gms-cometd", "gms-idle", "gms-startup"}

// gmsResponse is the GMS response object (§1.4) as a client reads it.
type gmsResponse struct {
	StatusCode   int        `json:"statusCode"`
	ChatID       string     `json:"chatId"`
	UserID       string     `json:"userId"`
	SecureKey    string     `json:"secureKey"`
	Alias        string     `json:"alias"`
	ChatEnded    bool       `json:"chatEnded"`
	NextPosition int64      `json:"nextPosition"`
	Messages     []gmsEvent `json:"messages"`
	Errors       []struct {
		Code int `json:"code"`
	} `json:"errors"`
}

type gmsEvent struct {
	Index int64  `json:"index"`
	Type  string `json:"type"`
	Text  string `json:"text"`
}

func (r *gmsResponse) errCode() int {
	if len(r.Errors) == 0 {
		return 0
	}
	return r.Errors[0].Code
}

// hasMessage tells whether the response carries the Message event with this text.
func (r *gmsResponse) hasMessage(text string) bool {
	for _, e := range r.Messages {
		if e.Type == "Message" && e.Text == text {
			return true
		}
	}
	return false
}

// GMSResult is what the GMS modes count in one process; results merge across processes.
type GMSResult struct {
	Service       string        `json:"service"`
	Customers     int64         `json:"customers"`
	Messages      int           `json:"messages_per_customer"`
	Created       int64         `json:"chats_created"`
	CreateFailed  int64         `json:"create_failed"`
	CreateSeconds float64       `json:"create_seconds"` // wall time of the create phase (slowest process)
	Sent          int64         `json:"messages_sent"`
	Acked         int64         `json:"messages_acked"`
	SendFailed    int64         `json:"send_failed"`
	NotSent       int64         `json:"not_sent"` // left out because -duration passed
	SendSeconds   float64       `json:"send_seconds"`
	CreateLatency HistogramJSON `json:"create_latency"`
	SendLatency   HistogramJSON `json:"send_latency"` // send → acknowledgement
}

// Merge adds o into g.
func (g *GMSResult) Merge(o *GMSResult) {
	if g.Service == "" {
		g.Service, g.Messages = o.Service, o.Messages
	}
	g.Customers += o.Customers
	g.Created += o.Created
	g.CreateFailed += o.CreateFailed
	g.CreateSeconds = max(g.CreateSeconds, o.CreateSeconds)
	g.Sent += o.Sent
	g.Acked += o.Acked
	g.SendFailed += o.SendFailed
	g.NotSent += o.NotSent
	g.SendSeconds = max(g.SendSeconds, o.SendSeconds)
	g.CreateLatency = mergeHist(g.CreateLatency, o.CreateLatency)
	g.SendLatency = mergeHist(g.SendLatency, o.SendLatency)
}

func mergeHist(a, b HistogramJSON) HistogramJSON {
	var h Histogram
	h.Import(a)
	h.Import(b)
	return h.Export()
}

// GMSRates is the derived view of a GMSResult.
type GMSRates struct {
	CreatesPerSec  float64 `json:"creates_per_sec"`
	MessagesPerSec float64 `json:"messages_per_sec"` // acknowledged messages per second of the send phase
	Create         Pcts    `json:"create_ms"`
	Send           Pcts    `json:"send_ms"`
	// ServerCPUPerOpUS is the server's CPU time (process_cpu_seconds_total) over the run
	// divided by chats created + messages acknowledged (gms-rest, gms-cometd).
	ServerCPUPerOpUS float64 `json:"server_cpu_per_op_us,omitempty"`
}

// Pcts are latency percentiles in milliseconds.
type Pcts struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
	N   int64   `json:"n"`
}

func pctsOf(j HistogramJSON) Pcts {
	var h Histogram
	h.Import(j)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Pcts{P50: ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)), P99: ms(h.Quantile(0.99)), Max: ms(h.Max()), N: h.Count()}
}

func ratesOf(g *GMSResult) *GMSRates {
	r := &GMSRates{Create: pctsOf(g.CreateLatency), Send: pctsOf(g.SendLatency)}
	if g.CreateSeconds > 0 {
		r.CreatesPerSec = float64(g.Created) / g.CreateSeconds
	}
	if g.SendSeconds > 0 {
		r.MessagesPerSec = float64(g.Acked) / g.SendSeconds
	}
	return r
}

// gmsCustomer is one widget: it creates one chat and then sends messages, one operation at a
// time. Each call returns the latency from request to acknowledgement.
type gmsCustomer interface {
	open(ctx context.Context) error
	create(ctx context.Context) (time.Duration, error)
	send(ctx context.Context, k int) (time.Duration, error)
	close(ctx context.Context)
	// lastIndex is the highest transcript index the customer has seen.
	lastIndex() int64
}

// gmsWorker runs this process's slice of the customers.
type gmsWorker struct {
	cfg  Config
	log  *slog.Logger
	base *worker // dialers, HTTP clients, event and error counting

	createLat, sendLat                           Histogram
	created, createFailed, sent, acked, sendFail atomic.Int64
	notSent, opened, openFailed                  atomic.Int64
	stoppedByDuration                            atomic.Bool

	customersMu                 sync.Mutex
	customers                   []gmsCustomer
	runCtx                      context.Context
	runCancel                   context.CancelFunc
	runWG                       sync.WaitGroup
	openTime                    time.Duration
	restBase, svcChannel        string
	createConcurrency           int // 0: every customer at once
	firstCustomer, lastCustomer int
}

func newGMSWorker(cfg Config, log *slog.Logger) *gmsWorker {
	w := &gmsWorker{cfg: cfg, log: log, base: newWorker(cfg, log)}
	u, _ := url.Parse(cfg.URL)
	w.restBase = u.Scheme + "://" + u.Host + "/genesys/2/chat/" + url.PathEscape(cfg.Service)
	w.svcChannel = "/service/chatV2/" + cfg.Service
	total := cfg.Clients
	w.createConcurrency = 0 // every customer at once
	if cfg.Mode == "gms-idle" || cfg.Mode == "gms-startup" {
		total = cfg.Chats
		w.createConcurrency = max(1, cfg.Concurrency)
	}
	w.firstCustomer, w.lastCustomer = cfg.slice(total)
	return w
}

func (w *gmsWorker) openCounts() (opened, failed int64) { return w.opened.Load(), w.openFailed.Load() }

// sourceIP spreads customers over 127.0.0.1 … 127.0.0.<Sources>.
func (w *gmsWorker) sourceIP(global int) string {
	return net.IPv4(127, 0, 0, byte(1+global%max(1, w.cfg.Sources))).String()
}

func (w *gmsWorker) newCustomer(global int) gmsCustomer {
	if w.cfg.Mode == "gms-cometd" {
		return newCometCustomer(w, global)
	}
	return &restCustomer{w: w, hc: w.base.hc[w.sourceIP(global)], base: w.restBase, global: global}
}

// messageText is message k (1-based) of customer global, padded to about -size bytes.
func (w *gmsWorker) messageText(global, k int) string {
	t := "m" + strconv.Itoa(k) + " c" + strconv.Itoa(global)
	if pad := w.cfg.Size - len(t) - 1; pad > 0 {
		t += " " + strings.Repeat("x", pad)
	}
	return t
}

// open creates the customers; CometD customers open their sessions (bounded by -concurrency).
func (w *gmsWorker) open(ctx context.Context) {
	w.runCtx, w.runCancel = context.WithCancel(context.WithoutCancel(ctx))
	start := time.Now()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range max(1, w.cfg.Concurrency) {
		wg.Go(func() {
			for g := range jobs {
				c := w.newCustomer(g)
				octx, cancel := context.WithTimeout(ctx, gmsOpTimeout)
				err := c.open(octx)
				cancel()
				if err != nil {
					w.openFailed.Add(1)
					w.base.errorf("open: %v", err)
					continue
				}
				w.opened.Add(1)
				w.customersMu.Lock()
				w.customers = append(w.customers, c)
				w.customersMu.Unlock()
			}
		})
	}
	for g := w.firstCustomer; g < w.lastCustomer && ctx.Err() == nil; g++ {
		jobs <- g
	}
	close(jobs)
	wg.Wait()
	w.openTime = time.Since(start)
}

// run is the measured part: the create phase, then the send phase.
func (w *gmsWorker) run(ctx context.Context) Result {
	dctx, cancel := context.WithTimeout(ctx, w.cfg.Duration)
	defer cancel()
	opCtx := func() (context.Context, context.CancelFunc) {
		// An operation that started runs to its acknowledgement (or timeout) even when
		// -duration passes meanwhile; only the interrupt (ctx) cuts it.
		return context.WithTimeout(ctx, gmsOpTimeout)
	}
	each := func(limit int, fn func(c gmsCustomer)) {
		var wg sync.WaitGroup
		if limit <= 0 {
			for _, c := range w.customers {
				wg.Go(func() { fn(c) })
			}
		} else {
			sem := make(chan struct{}, limit)
			for _, c := range w.customers {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					fn(c)
				})
			}
		}
		wg.Wait()
	}

	ok := make(map[gmsCustomer]bool, len(w.customers))
	var okMu sync.Mutex
	start := time.Now()
	each(w.createConcurrency, func(c gmsCustomer) {
		if dctx.Err() != nil {
			w.stoppedByDuration.Store(true)
			return
		}
		octx, ocancel := opCtx()
		d, err := c.create(octx)
		ocancel()
		if err != nil {
			w.createFailed.Add(1)
			w.base.event(failureKind("create", err))
			w.base.errorf("requestChat: %v", err)
			return
		}
		w.created.Add(1)
		w.createLat.Record(d)
		okMu.Lock()
		ok[c] = true
		okMu.Unlock()
	})
	createSecs := time.Since(start).Seconds()

	start = time.Now()
	if w.cfg.Messages > 0 {
		each(0, func(c gmsCustomer) {
			if !ok[c] {
				return
			}
			acked := int64(0)
			defer func() {
				// The customer's transcript is ParticipantJoined plus its acknowledged
				// messages, nothing else; the last index it saw must say so.
				if got := c.lastIndex(); got != 1+acked {
					w.base.event("transcript-last-index-mismatch")
					w.base.errorf("customer saw last index %d after %d acknowledged messages", got, acked)
				}
			}()
			for k := 1; k <= w.cfg.Messages; k++ {
				if dctx.Err() != nil {
					w.stoppedByDuration.Store(true)
					w.notSent.Add(int64(w.cfg.Messages - k + 1))
					return
				}
				w.sent.Add(1)
				octx, ocancel := opCtx()
				d, err := c.send(octx, k)
				ocancel()
				if err != nil {
					w.sendFail.Add(1)
					w.base.event(failureKind("send", err))
					w.base.errorf("sendMessage: %v", err)
					continue
				}
				acked++
				w.acked.Add(1)
				w.sendLat.Record(d)
			}
		})
	}
	sendSecs := time.Since(start).Seconds()
	if w.cfg.Messages == 0 {
		sendSecs = 0
	}
	if w.stoppedByDuration.Load() {
		w.base.event("stopped-by-duration")
	}

	events, errs := w.base.incidents()
	return Result{
		Mode: w.cfg.Mode, Transport: w.transportName(), Clients: w.lastCustomer - w.firstCustomer,
		Opened: w.opened.Load(), OpenFailed: w.openFailed.Load(), OpenSeconds: w.openTime.Seconds(),
		RunSeconds: createSecs + sendSecs, Events: events, Errors: errs,
		GMS: &GMSResult{
			Service: w.cfg.Service, Customers: int64(w.lastCustomer - w.firstCustomer), Messages: w.cfg.Messages,
			Created: w.created.Load(), CreateFailed: w.createFailed.Load(), CreateSeconds: createSecs,
			Sent: w.sent.Load(), Acked: w.acked.Load(), SendFailed: w.sendFail.Load(), NotSent: w.notSent.Load(),
			SendSeconds: sendSecs, CreateLatency: w.createLat.Export(), SendLatency: w.sendLat.Export(),
		},
	}
}

func (w *gmsWorker) transportName() string {
	if w.cfg.Mode == "gms-cometd" {
		return w.cfg.Transport
	}
	return "rest"
}

func (w *gmsWorker) close(ctx context.Context) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, w.cfg.Concurrency))
	for _, c := range w.customers {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c.close(ctx)
		})
	}
	wg.Wait()
	if w.runCancel != nil {
		w.runCancel()
	}
	w.runWG.Wait()
	w.base.close(ctx)
}

// checkLoopback refuses a target that is not a loopback address: the tool is for this machine.
func checkLoopback(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("parsing -url: %w", err)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-url host %q is not a loopback address", host)
}

// printGMS writes the GMS part of the human summary.
func (s Summary) printGMS(w io.Writer) {
	g, r := s.GMS, s.GMSRates
	if r == nil {
		r = ratesOf(g)
	}
	fmt.Fprintf(w, "service %s: customers %d, chats created %d (failed %d) in %.2fs = %.0f creations/s\n",
		g.Service, g.Customers, g.Created, g.CreateFailed, g.CreateSeconds, r.CreatesPerSec)
	fmt.Fprintf(w, "create latency p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", r.Create.P50, r.Create.P90, r.Create.P99, r.Create.Max)
	if g.Messages > 0 {
		fmt.Fprintf(w, "messages sent %d, acknowledged %d (failed %d, not sent %d) in %.2fs = %.0f messages/s\n",
			g.Sent, g.Acked, g.SendFailed, g.NotSent, g.SendSeconds, r.MessagesPerSec)
		fmt.Fprintf(w, "send→ack latency p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", r.Send.P50, r.Send.P90, r.Send.P99, r.Send.Max)
	}
	if r.ServerCPUPerOpUS > 0 {
		fmt.Fprintf(w, "server CPU %.0f µs per operation (creations + acknowledged messages)\n", r.ServerCPUPerOpUS)
	}
}
