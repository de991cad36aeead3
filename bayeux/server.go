package bayeux

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// Transport names, as advertised in supportedConnectionTypes.
const (
	TransportWebSocket       = "websocket"
	TransportLongPolling     = "long-polling"
	TransportCallbackPolling = "callback-polling"
)

// supportedTypes is what the handshake advertises, in the server's preference order.
// cross-origin-long-polling is Faye's name for long-polling with a form body.
var supportedTypes = []string{TransportWebSocket, TransportLongPolling, TransportCallbackPolling, "cross-origin-long-polling"}

// BrowserCookie is the cookie that ties sessions to one browser.
const BrowserCookie = "BAYEUX_BROWSER"

// ErrSessionUnknown is wrapped by Deliver when the session does not exist (any more).
var ErrSessionUnknown = errors.New("bayeux: session unknown")

// Stats is a snapshot of the server's counters (same fields as web.BayeuxStats).
type Stats struct {
	Sessions      int64            // live sessions
	Connections   map[string]int64 // open connections now by transport: held polls, open websockets
	MessagesIn    uint64           // messages received from clients
	MessagesOut   uint64           // messages sent to clients
	QueueDrops    uint64           // messages dropped on a full session queue
	QueuedBytes   int64            // encoded bytes waiting in session queues and websocket frame lists
	Subscriptions int64            // subscriptions of all live sessions
	// Refusals counts what the abuse limits refused, by reason (RefusalReasons).
	Refusals map[string]uint64
}

// Server is a Bayeux 1.0 server. It is an http.Handler for the Bayeux endpoint and every
// path below it; see the package documentation.
type Server struct {
	cfg      Config
	log      *slog.Logger
	origins  []originPattern
	public   []string // Config.PublicOrigins, normalised
	upgrader websocket.Upgrader
	lim      limits
	hsLimit  *addrLimiter // nil: handshakes are not rate limited
	bounds   queueBounds  // session queues and websocket frame lists

	mu       sync.RWMutex
	sessions map[string]*session
	browsers map[string]*browser
	wsConns  map[*wsConn]struct{}
	subCount int // subscriptions of all sessions (Config.MaxSubscriptions)
	closing  bool
	pingStop chan struct{}  // closed by Shutdown; non-nil once the websocket pinger runs
	wg       sync.WaitGroup // requests and websocket goroutines in flight; Add only while !closing

	subs subIndex

	hookMu    sync.RWMutex
	services  []serviceRoute
	onAdded   []func(SessionInfo)
	onRemoved []func(SessionInfo, RemoveReason, json.RawMessage)
	onConnect []func(context.Context, SessionInfo)
	onSub     []func(info SessionInfo, channel string, subscribed bool)

	stats struct {
		sessions               atomic.Int64
		ws, longPoll, callback atomic.Int64
		in, out, drops         atomic.Uint64
		refused                [numRefusals]atomic.Uint64
	}
	refusalLog [numRefusals]rate.Sometimes // one warning per reason per 10 s: attacks must not flood the log
	dropLog    rate.Sometimes              // one queue-drop warning per 10 s
}

// browser is what the server knows of one BAYEUX_BROWSER id.
type browser struct {
	sessions map[*session]struct{}
	held     int // long-polls held now
	subs     int // subscriptions of its sessions
}

// NewServer builds a server; it starts no goroutine of its own.
func NewServer(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		lim:      limits{maxMessages: cfg.MaxMessagesPerBatch, maxMessageBytes: cfg.MaxMessageBytes},
		sessions: map[string]*session{},
		browsers: map[string]*browser{},
		wsConns:  map[*wsConn]struct{}{},
		subs:     subIndex{m: map[string]map[*session]struct{}{}},
	}
	if cfg.HandshakesPerMinute > 0 {
		s.hsLimit = newAddrLimiter(cfg.HandshakesPerMinute, cfg.HandshakeBurst)
	}
	for i := range s.refusalLog {
		s.refusalLog[i].Interval = 10 * time.Second
	}
	s.dropLog.Interval = 10 * time.Second
	s.bounds.maxCount, s.bounds.maxBytes, s.bounds.maxTotal = cfg.MaxQueue, cfg.MaxQueueBytes, cfg.MaxTotalQueueBytes
	for _, o := range cfg.PublicOrigins {
		p, _ := parsePublicOrigin(o) // validated by withDefaults
		s.public = append(s.public, p)
	}
	for _, o := range cfg.AllowedOrigins {
		p, _ := parseOriginPattern(o) // validated by withDefaults
		s.origins = append(s.origins, p)
	}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  512,
		WriteBufferSize: 2048,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin: func(r *http.Request) bool {
			_, ok := s.checkOrigin(r)
			if !ok {
				s.refuseOrigin(r)
			}
			return ok
		},
	}
	if err := cfg.Broker.Subscribe(s.fanout); err != nil {
		return nil, fmt.Errorf("bayeux: broker subscribe: %w", err)
	}
	if cfg.TestEcho {
		s.HandleService("/service/echo", func(_ context.Context, req *ServiceRequest) error {
			return req.Reply(req.Data)
		})
	}
	return s, nil
}

// ServeHTTP serves the Bayeux endpoint: websocket upgrades, long-polling POSTs (JSON or
// Faye's message= form) and callback-polling GETs (JSONP). The path suffix (/handshake,
// /connect, ...) is ignored. CORS headers and preflights are the router's (web.Server).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	switch {
	case r.Method == http.MethodGet && websocket.IsWebSocketUpgrade(r):
		s.serveWebSocket(w, r)
	case r.Method == http.MethodPost:
		s.serveLongPoll(w, r)
	case r.Method == http.MethodGet:
		s.serveCallbackPoll(w, r)
	default:
		// CORS preflights (OPTIONS) are answered by the router in front (web.Server).
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// enter registers a request in flight; false once shutting down.
func (s *Server) enter() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	return true
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Sessions: s.stats.sessions.Load(),
		Connections: map[string]int64{
			TransportWebSocket:       s.stats.ws.Load(),
			TransportLongPolling:     s.stats.longPoll.Load(),
			TransportCallbackPolling: s.stats.callback.Load(),
		},
		MessagesIn:    s.stats.in.Load(),
		MessagesOut:   s.stats.out.Load(),
		QueueDrops:    s.stats.drops.Load(),
		QueuedBytes:   s.bounds.total.Load(),
		Subscriptions: s.subscriptionCount(),
		Refusals:      s.refusals(),
	}
}

func (s *Server) connGauge(transport string) *atomic.Int64 {
	switch transport {
	case TransportWebSocket:
		return &s.stats.ws
	case TransportCallbackPolling:
		return &s.stats.callback
	}
	return &s.stats.longPoll
}

// OnSessionAdded registers fn, called after each successful handshake. Register hooks before
// serving; they run on the request goroutine and must not block.
func (s *Server) OnSessionAdded(fn func(SessionInfo)) {
	s.hookMu.Lock()
	s.onAdded = append(s.onAdded, fn)
	s.hookMu.Unlock()
}

// OnSessionRemoved registers fn, called once when a session ends. disconnectExt is the ext
// of the client's /meta/disconnect (nil for other reasons).
func (s *Server) OnSessionRemoved(fn func(info SessionInfo, reason RemoveReason, disconnectExt json.RawMessage)) {
	s.hookMu.Lock()
	s.onRemoved = append(s.onRemoved, fn)
	s.hookMu.Unlock()
}

// OnConnect registers fn, called on every /meta/connect of a live session (activity).
func (s *Server) OnConnect(fn func(ctx context.Context, info SessionInfo)) {
	s.hookMu.Lock()
	s.onConnect = append(s.onConnect, fn)
	s.hookMu.Unlock()
}

// OnSubscription registers fn, called after a subscription of a session took effect
// (subscribed true: the channel is now among the session's subscriptions, its reply is
// successful) or after an unsubscribe removed one (false); once per channel that changed,
// never for a refused or repeated one, nor for a session's removal (OnSessionRemoved says
// that). It runs on the request goroutine with no lock held and must not block; a message
// it makes the server Deliver to the session arrives after the subscribe reply on
// long-polling and right after it on a websocket.
func (s *Server) OnSubscription(fn func(info SessionInfo, channel string, subscribed bool)) {
	s.hookMu.Lock()
	s.onSub = append(s.onSub, fn)
	s.hookMu.Unlock()
}

// Publish broadcasts data on a (non-wildcard, non-meta) channel to every subscriber, through
// the broker. data is marshalled to JSON unless it is json.RawMessage or []byte.
func (s *Server) Publish(ctx context.Context, channel string, data any) error {
	if !validChannel(channel, false) || isMeta(channel) {
		return fmt.Errorf("bayeux: publish: invalid channel %q", channel)
	}
	raw, err := encodeData(data)
	if err != nil {
		return err
	}
	if err := s.cfg.Broker.Publish(ctx, channel, encodeDelivery(channel, raw, nil)); err != nil {
		return fmt.Errorf("bayeux: publish on %s: %w", channel, err)
	}
	return nil
}

// Deliver queues data on channel for one session only (a service reply, a chat event). The
// error wraps ErrSessionUnknown when the session is gone. It never blocks on the network.
func (s *Server) Deliver(_ context.Context, sessionID, channel string, data any) error {
	if !validChannel(channel, false) || isMeta(channel) {
		return fmt.Errorf("bayeux: deliver: invalid channel %q", channel)
	}
	raw, err := encodeData(data)
	if err != nil {
		return err
	}
	sess := s.session(sessionID)
	if sess == nil {
		return fmt.Errorf("bayeux: deliver to %q: %w", sessionID, ErrSessionUnknown)
	}
	msg := encodeDelivery(channel, raw, nil)
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.removed {
		return fmt.Errorf("bayeux: deliver to %q: %w", sessionID, ErrSessionUnknown)
	}
	sess.enqueueLocked(msg)
	return nil
}

// Live reports whether the session has a held connect or an open websocket now.
func (s *Server) Live(sessionID string) bool {
	sess := s.session(sessionID)
	if sess == nil {
		return false
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return !sess.removed && (sess.held != nil || sess.ws != nil)
}

// BrowserSessions returns the ids of the live sessions of the request's BAYEUX_BROWSER
// cookie; ok is false when the request has no such cookie.
func (s *Server) BrowserSessions(r *http.Request) (ids []string, ok bool) {
	c, err := r.Cookie(BrowserCookie)
	if err != nil || !validBrowserID(c.Value) {
		return nil, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if b := s.browsers[c.Value]; b != nil {
		for sess := range b.sessions {
			ids = append(ids, sess.id)
		}
	}
	return ids, true
}

// Session returns a copy of a live session's description.
func (s *Server) Session(sessionID string) (SessionInfo, bool) {
	sess := s.session(sessionID)
	if sess == nil {
		return SessionInfo{}, false
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.info(), !sess.removed
}

func (s *Server) session(id string) *session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sessions[id]
}

// Shutdown answers every held connect (402 with handshake advice: the sessions are gone),
// closes every websocket with a going-away close frame, removes every session (reason
// Shutdown), and waits until no request or websocket goroutine of the server is running, or
// ctx ends. Later requests get 503.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	if s.pingStop != nil {
		close(s.pingStop)
	}
	sessions := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	conns := make([]*wsConn, 0, len(s.wsConns))
	for c := range s.wsConns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		s.removeSession(sess, ReasonShutdown, nil)
	}
	for _, c := range conns {
		c.closeGracefully()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		for _, c := range conns {
			c.kill()
		}
		err = fmt.Errorf("bayeux shutdown: %w", ctx.Err())
		// Held polls are answered and sockets closed: what is left are service handlers
		// that ignore their cancelled context. Give them a moment, never hang.
		t := time.NewTimer(time.Second)
		select {
		case <-done:
		case <-t.C:
			s.log.Warn("bayeux shutdown: requests still running after the deadline")
		}
		t.Stop()
	}
	if berr := s.cfg.Broker.Close(); berr != nil {
		err = errors.Join(err, fmt.Errorf("bayeux shutdown: broker: %w", berr))
	}
	return err
}

// removeSession ends a session once: answers its held connect, drops its queue and
// subscriptions, and calls the removal hooks.
func (s *Server) removeSession(sess *session, reason RemoveReason, disconnectExt json.RawMessage) {
	sess.mu.Lock()
	if sess.removed {
		sess.mu.Unlock()
		return
	}
	sess.removed = true
	if h := sess.held; h != nil {
		sess.held = nil
		var final []byte
		if reason == ReasonDisconnect {
			// The CometD client waits for its held connect after a disconnect.
			final = mustEncode(reply{Channel: "/meta/connect", ID: h.msgID, Successful: true,
				Advice: &Advice{Reconnect: ReconnectNone}})
		} else {
			final = mustEncode(unknownSessionReply("/meta/connect", h.msgID, s.shutdownInterval(reason)))
		}
		if h.polling() {
			s.releaseHeld(sess, h)
			h.state, h.final = heldRemoved, [][]byte{final}
			close(h.done)
		} else {
			h.conn.send(final)
		}
	}
	if sess.timer != nil {
		sess.timer.Stop()
	}
	clear(sess.queue)
	sess.queue, sess.ack.inflight = nil, nil
	sess.releaseLocked(sess.queueBytes)
	subs := sess.subs
	sess.subs = nil
	info := sess.info()
	sess.ws = nil
	sess.mu.Unlock()

	s.mu.Lock()
	delete(s.sessions, sess.id)
	s.subCount -= len(subs)
	if b := s.browsers[sess.browser]; b != nil {
		b.subs -= len(subs)
		delete(b.sessions, sess)
		if len(b.sessions) == 0 && b.held == 0 {
			delete(s.browsers, sess.browser)
		}
	}
	s.mu.Unlock()
	for ch := range subs {
		s.subs.remove(ch, sess)
	}
	s.stats.sessions.Add(-1)
	s.log.Debug("bayeux session removed", "session", sess.id, "reason", reason.String())
	s.hookMu.RLock()
	hooks := s.onRemoved
	s.hookMu.RUnlock()
	for _, fn := range hooks {
		fn(info, reason, disconnectExt)
	}
}

// shutdownInterval spreads reconnections after a shutdown over a few seconds.
func (s *Server) shutdownInterval(reason RemoveReason) int64 {
	if reason != ReasonShutdown {
		return 0
	}
	return time.Now().UnixNano() % 2000
}

// releaseHeld forgets a held long-poll in its browser's count. Called with sess.mu held.
func (s *Server) releaseHeld(sess *session, h *held) {
	if !h.counted {
		return
	}
	h.counted = false
	s.mu.Lock()
	if b := s.browsers[sess.browser]; b != nil && b.held > 0 {
		b.held--
		if len(b.sessions) == 0 && b.held == 0 {
			delete(s.browsers, sess.browser)
		}
	}
	s.mu.Unlock()
}

// retryAdvice is the advice of successful handshake and connect replies.
func (s *Server) retryAdvice() *Advice {
	t := s.cfg.Timeout.Milliseconds()
	return &Advice{Reconnect: ReconnectRetry, Interval: s.cfg.Interval.Milliseconds(), Timeout: &t}
}

// unknownSessionReply is the 402 that makes both stock clients handshake again.
func unknownSessionReply(channel string, id json.RawMessage, interval int64) reply {
	return reply{Channel: channel, ID: id, Successful: false, Error: errSessionUnknown.Error(),
		Advice: &Advice{Reconnect: ReconnectHandshake, Interval: interval}}
}

// fanout receives a broadcast from the broker and queues it for every matching subscriber.
func (s *Server) fanout(channel string, msg []byte) {
	var keysBuf [8]string
	targets := s.subs.match(patternsFor(channel, keysBuf[:0]))
	for _, sess := range targets {
		sess.mu.Lock()
		sess.enqueueLocked(msg)
		sess.mu.Unlock()
	}
}

// subIndex maps a subscription (channel or pattern) to its sessions.
type subIndex struct {
	mu sync.RWMutex
	m  map[string]map[*session]struct{}
}

func (x *subIndex) add(ch string, sess *session) {
	x.mu.Lock()
	set := x.m[ch]
	if set == nil {
		set = map[*session]struct{}{}
		x.m[ch] = set
	}
	set[sess] = struct{}{}
	x.mu.Unlock()
}

func (x *subIndex) remove(ch string, sess *session) {
	x.mu.Lock()
	if set := x.m[ch]; set != nil {
		delete(set, sess)
		if len(set) == 0 {
			delete(x.m, ch)
		}
	}
	x.mu.Unlock()
}

// match returns each session subscribed to one of keys, once.
func (x *subIndex) match(keys []string) []*session {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var sets []map[*session]struct{}
	n := 0
	for _, k := range keys {
		if set := x.m[k]; len(set) > 0 {
			sets = append(sets, set)
			n += len(set)
		}
	}
	if len(sets) == 0 {
		return nil
	}
	out := make([]*session, 0, n)
	if len(sets) == 1 {
		for sess := range sets[0] {
			out = append(out, sess)
		}
		return out
	}
	seen := make(map[*session]struct{}, n)
	for _, set := range sets {
		for sess := range set {
			if _, dup := seen[sess]; !dup {
				seen[sess] = struct{}{}
				out = append(out, sess)
			}
		}
	}
	return out
}
