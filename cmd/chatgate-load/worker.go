package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Config describes the whole run; a worker handles the slice [Index/Procs] of it.
type Config struct {
	URL          string        // http://host:port/genesys/cometd
	Mode         string        // "latency" or "idle"
	Transport    string        // "websocket" or "long-polling" (subscribers)
	PubTransport string        // transport of publishers (default: Transport)
	Clients      int           // subscriber sessions in total
	Channels     int           // subscribers are spread round-robin over this many channels
	Prefix       string        // channel prefix, e.g. "/bench/"
	Publishers   int           // publisher sessions in total
	Rate         float64       // publishes per second, all publishers together
	Size         int           // approximate data size in bytes (padding)
	Duration     time.Duration // publishing (latency) or holding (idle) time
	Drain        time.Duration // time to wait for in-flight messages after the last publish
	Sources      int           // dial from 127.0.0.1 … 127.0.0.<Sources>
	Ack          bool          // enable the ack extension
	Concurrency  int           // sessions being opened at once per process
	Procs        int
	Index        int // this worker's process index

	// GMS chat API modes (gms-*).
	Service  string // chat service name: /genesys/2/chat/{Service}, /service/chatV2/{Service}
	Messages int    // messages each customer sends after creating its chat
	Chats    int    // gms-idle, gms-startup: chats to create
	Async    bool   // request async chats (userData GCTI_Chat_AsyncMode=true)
}

func (c Config) slice(total int) (lo, hi int) {
	return total * c.Index / c.Procs, total * (c.Index + 1) / c.Procs
}

// subscribersOf is the number of subscribers (over all processes) of channel ch.
func (c Config) subscribersOf(ch int) int64 {
	n := c.Clients / c.Channels
	if ch < c.Clients%c.Channels {
		n++
	}
	return int64(n)
}

func (c Config) channel(i int) string { return c.Prefix + strconv.Itoa(i) }

// worker owns the sessions of one process and counts what they see.
type worker struct {
	cfg    Config
	log    *slog.Logger
	lat    Histogram
	dialer map[string]*websocket.Dialer
	hc     map[string]*http.Client

	delivered, acked, pubFailed atomic.Int64
	counting                    atomic.Bool

	evMu   sync.Mutex
	events map[string]int64
	errMu  sync.Mutex
	errors []string

	subs, pubs []session
	opened     atomic.Int64
	openFailed atomic.Int64
	openTime   time.Duration
	runCtx     context.Context
	runCancel  context.CancelFunc
	runWG      sync.WaitGroup
}

func newWorker(cfg Config, log *slog.Logger) *worker {
	w := &worker{cfg: cfg, log: log, dialer: map[string]*websocket.Dialer{}, hc: map[string]*http.Client{}, events: map[string]int64{}}
	// Count from the start: with several processes, another process's publishers may start a
	// few milliseconds before this one is released.
	w.counting.Store(true)
	for i := 1; i <= max(1, cfg.Sources); i++ {
		ip := net.IPv4(127, 0, 0, byte(i))
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}
		w.dialer[ip.String()] = &websocket.Dialer{
			NetDialContext:   d.DialContext,
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   2048,
			WriteBufferSize:  1024,
		}
		w.hc[ip.String()] = &http.Client{Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConnsPerHost: 1 << 16,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		}}
	}
	return w
}

func (w *worker) openCounts() (opened, failed int64) { return w.opened.Load(), w.openFailed.Load() }

// sink implementation

func (w *worker) deliver(_ string, data json.RawMessage, at time.Time) {
	var st stamp
	if json.Unmarshal(data, &st) != nil || st.T == 0 {
		w.event("unstamped-message")
		return
	}
	if !w.counting.Load() {
		return
	}
	w.delivered.Add(1)
	w.lat.Record(at.Sub(time.Unix(0, st.T)))
}

func (w *worker) publishAck(ok bool) {
	if ok {
		w.acked.Add(1)
	} else {
		w.pubFailed.Add(1)
	}
}

func (w *worker) event(name string) {
	w.evMu.Lock()
	w.events[name]++
	w.evMu.Unlock()
}

func (w *worker) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	w.errMu.Lock()
	defer w.errMu.Unlock()
	if len(w.errors) < maxErrors {
		for _, e := range w.errors {
			if e == msg {
				return
			}
		}
		w.errors = append(w.errors, msg)
	}
}

func (w *worker) newSession(global int, transport string) session {
	ip := net.IPv4(127, 0, 0, byte(1+global%max(1, w.cfg.Sources))).String()
	if transport == "websocket" {
		u := strings.Replace(strings.Replace(w.cfg.URL, "https://", "wss://", 1), "http://", "ws://", 1)
		return newWSSession(u, w.dialer[ip], w, w.cfg.Ack)
	}
	return newLPSession(w.cfg.URL, w.hc[ip], w, w.cfg.Ack)
}

// open opens this worker's subscribers and publishers with bounded concurrency and starts
// their connect loops. Sessions that fail to open are counted and left out.
func (w *worker) open(ctx context.Context) {
	w.runCtx, w.runCancel = context.WithCancel(context.WithoutCancel(ctx))
	start := time.Now()
	lo, hi := w.cfg.slice(w.cfg.Clients)
	plo, phi := w.cfg.slice(w.cfg.Publishers)
	type job struct {
		global    int
		transport string
		channels  []string
		pub       bool
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range max(1, w.cfg.Concurrency) {
		wg.Go(func() {
			for j := range jobs {
				s := w.newSession(j.global, j.transport)
				octx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := s.open(octx, j.channels)
				cancel()
				if err != nil {
					w.openFailed.Add(1)
					w.errorf("open: %v", err)
					continue
				}
				w.opened.Add(1)
				mu.Lock()
				if j.pub {
					w.pubs = append(w.pubs, s)
				} else {
					w.subs = append(w.subs, s)
				}
				mu.Unlock()
				w.runWG.Go(func() { s.run(w.runCtx) })
			}
		})
	}
	for i := lo; i < hi && ctx.Err() == nil; i++ {
		jobs <- job{global: i, transport: w.cfg.Transport, channels: []string{w.cfg.channel(i % w.cfg.Channels)}}
	}
	for i := plo; i < phi && ctx.Err() == nil; i++ {
		jobs <- job{global: w.cfg.Clients + i, transport: w.cfg.PubTransport, pub: true}
	}
	close(jobs)
	wg.Wait()
	w.openTime = time.Since(start)
}

// run publishes at the configured rate for Duration (latency mode) or just holds the sessions
// (idle mode), then waits Drain for in-flight messages.
func (w *worker) run(ctx context.Context) Result {
	start := time.Now()
	var published atomic.Int64
	var expected atomic.Int64
	if w.cfg.Mode == "latency" && len(w.pubs) > 0 && w.cfg.Rate > 0 {
		rctx, cancel := context.WithTimeout(ctx, w.cfg.Duration)
		var wg sync.WaitGroup
		plo, _ := w.cfg.slice(w.cfg.Publishers)
		// This process's share of the total rate.
		share := w.cfg.Rate * float64(len(w.pubs)) / float64(w.cfg.Publishers)
		per := time.Duration(float64(time.Second) * float64(len(w.pubs)) / share)
		pad := strings.Repeat("x", max(0, w.cfg.Size-40))
		for j, p := range w.pubs {
			g := plo + j
			wg.Go(func() {
				// Stagger publishers over one interval so their sends do not coincide.
				next := time.Now().Add(per * time.Duration(j) / time.Duration(len(w.pubs)))
				for k := 0; ; k++ {
					if d := time.Until(next); d > 0 {
						t := time.NewTimer(d)
						select {
						case <-rctx.Done():
							t.Stop()
							return
						case <-t.C:
						}
					} else if rctx.Err() != nil {
						return
					}
					ch := (g + k*w.cfg.Publishers) % w.cfg.Channels
					data, _ := json.Marshal(stamp{T: time.Now().UnixNano(), S: int64(k), P: pad})
					// The publish itself runs on ctx, not rctx: a publish cut off at the end of
					// Duration may still reach the server and be delivered without being
					// counted as published (delivered > expected).
					if err := p.publish(ctx, w.cfg.channel(ch), data); err != nil {
						if ctx.Err() != nil {
							return
						}
						w.errorf("publish: %v", err)
						w.pubFailed.Add(1)
					} else {
						published.Add(1)
						expected.Add(w.cfg.subscribersOf(ch))
					}
					next = next.Add(per)
				}
			})
		}
		wg.Wait()
		cancel()
	} else {
		t := time.NewTimer(w.cfg.Duration)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	runFor := time.Since(start)
	if w.cfg.Mode == "latency" {
		// Wait for in-flight messages: until everything expected arrived (one process knows
		// its own total only when it is the only one), deliveries stop for a second, or Drain.
		deadline := time.Now().Add(w.cfg.Drain)
		last, lastChange := w.delivered.Load(), time.Now()
		for time.Now().Before(deadline) && ctx.Err() == nil {
			n := w.delivered.Load()
			if w.cfg.Procs == 1 && n >= expected.Load() {
				break
			}
			if n != last {
				last, lastChange = n, time.Now()
			} else if time.Since(lastChange) > time.Second {
				break
			}
			t := time.NewTimer(20 * time.Millisecond)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
	w.counting.Store(false)
	lo, hi := w.cfg.slice(w.cfg.Clients)
	plo, phi := w.cfg.slice(w.cfg.Publishers)
	events, errs := w.incidents()
	return Result{
		Mode: w.cfg.Mode, Transport: w.cfg.Transport, Clients: hi - lo, Publishers: phi - plo, Channels: w.cfg.Channels,
		Opened: w.opened.Load(), OpenFailed: w.openFailed.Load(), OpenSeconds: w.openTime.Seconds(),
		Published: published.Load(), PublishAcked: w.acked.Load(), PublishFailed: w.pubFailed.Load(),
		Delivered: w.delivered.Load(), Expected: expected.Load(), RunSeconds: runFor.Seconds(),
		Latency: w.lat.Export(), Events: events, Errors: errs,
	}
}

// incidents returns a copy of the counted events and the first distinct errors.
func (w *worker) incidents() (map[string]int64, []string) {
	w.evMu.Lock()
	events := make(map[string]int64, len(w.events))
	for k, v := range w.events {
		events[k] = v
	}
	w.evMu.Unlock()
	w.errMu.Lock()
	errs := append([]string(nil), w.errors...)
	w.errMu.Unlock()
	return events, errs
}

// close disconnects every session and stops their goroutines.
func (w *worker) close(ctx context.Context) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, w.cfg.Concurrency))
	for _, s := range append(append([]session(nil), w.subs...), w.pubs...) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.close(ctx)
		})
	}
	wg.Wait()
	if w.runCancel != nil {
		w.runCancel()
	}
	w.runWG.Wait()
	for _, c := range w.hc {
		c.CloseIdleConnections()
	}
}
