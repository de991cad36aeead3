package bayeux

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is one websocket. A reader goroutine reads frames and processes their messages in
// order. Writes are owned by one writer goroutine at a time, started when something is
// queued (send, ping, close) and ending when nothing is left: an idle connection costs one
// goroutine, not two, which matters at 10,000s of idle sessions. Sessions attach to the
// connection they last connected on.
type wsConn struct {
	srv  *Server
	conn *websocket.Conn

	mu        sync.Mutex
	pending   [][]byte
	pendBytes int      // encoded size of pending
	spare     [][]byte // the previous frame's slice, reused
	writing   bool     // a writer goroutine is running
	pingDue   bool
	closed    bool                  // the connection is finished: send refuses, no writer starts
	closing   bool                  // flush, then close frame
	one       *session              // the socket's session (usually its only one)
	more      map[*session]struct{} // further sessions on the same socket (rare)
	detached  bool
	lastWrite atomic.Int64 // unix nanoseconds of the last frame or ping written
	cancel    context.CancelFunc

	writers sync.WaitGroup
}

func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	c := s.httpConn(r, TransportWebSocket)
	var hdr http.Header
	if c.browser == "" {
		// Sessions handshaken on this socket belong to a new browser id; tell the browser.
		c.browser = newID()
		hdr = http.Header{"Set-Cookie": {s.browserCookie(r, c.browser).String()}}
	}
	wsc, err := s.upgrader.Upgrade(w, r, hdr)
	if err != nil {
		s.log.Debug("bayeux websocket upgrade failed", "err", err)
		return // the upgrader wrote the HTTP error
	}
	wc := &wsConn{srv: s, conn: wsc}
	c.ws = wc
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = wsc.Close()
		return
	}
	s.wsConns[wc] = struct{}{}
	s.wg.Add(1) // the reader; ServeHTTP's own count is still held here
	if s.pingStop == nil {
		s.pingStop = make(chan struct{})
		s.wg.Add(1)
		go s.pinger(s.pingStop)
	}
	s.mu.Unlock()
	s.stats.ws.Add(1)
	wc.lastWrite.Store(time.Now().UnixNano())
	// The reader runs on its own goroutine so that this request goroutine, and with it
	// net/http's per-connection state and buffers (~10 KB), is released now.
	go wc.run(c)
}

// run is the reader goroutine: it reads until the connection fails or closes, then cleans up.
func (wc *wsConn) run(c *conn) {
	s := wc.srv
	defer s.wg.Done()
	wc.readLoop(c)

	wc.mu.Lock()
	wc.closed = true
	clear(wc.pending)
	wc.pending = nil
	s.bounds.release(wc.pendBytes)
	wc.pendBytes = 0
	wc.mu.Unlock()
	_ = wc.conn.Close() // unblocks a writer stuck in a write
	wc.writers.Wait()
	s.mu.Lock()
	delete(s.wsConns, wc)
	s.mu.Unlock()
	s.stats.ws.Add(-1)
	wc.detachSessions()
}

// readWait is how long a websocket may stay silent (no frame, no pong) before it is dropped.
func (s *Server) readWait() time.Duration {
	return 2*max(s.cfg.Timeout, s.cfg.PingPeriod) + 10*time.Second
}

func (wc *wsConn) readLoop(c *conn) {
	s := wc.srv
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wc.mu.Lock()
	wc.cancel = cancel // kill() cancels what service handlers of this socket are doing
	wc.mu.Unlock()
	wsc := wc.conn
	wsc.SetReadLimit(s.cfg.MaxRequestBytes)
	wait := s.readWait()
	_ = wsc.SetReadDeadline(time.Now().Add(wait))
	wsc.SetPongHandler(func(string) error { return wsc.SetReadDeadline(time.Now().Add(wait)) })
	for {
		typ, data, err := wsc.ReadMessage()
		if err != nil {
			if websocket.IsUnexpectedCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
				s.log.Debug("bayeux websocket read", "err", err)
			}
			return
		}
		_ = wsc.SetReadDeadline(time.Now().Add(wait))
		if typ != websocket.TextMessage {
			wc.closeWith(websocket.CloseUnsupportedData, "text frames only")
			return
		}
		// Decoding and processing need a deep stack (JSON, handlers) that an idle reader
		// would otherwise keep for the life of the connection (8 KB instead of 2–4 KB per
		// idle session). They run on a short-lived goroutine; the reader waits for it, so
		// frames are still handled one after the other, in order.
		ok := make(chan bool, 1)
		go func() { ok <- wc.handleFrame(ctx, c, data) }()
		if !<-ok {
			return
		}
	}
}

// handleFrame decodes and processes one frame; false closes the connection.
func (wc *wsConn) handleFrame(ctx context.Context, c *conn, data []byte) bool {
	s := wc.srv
	msgs, err := decodeBatch(data, s.lim)
	if err != nil {
		s.log.Debug("bayeux malformed websocket frame", "err", err)
		wc.closeWith(websocket.CloseInvalidFramePayloadData, "malformed Bayeux message")
		return false
	}
	if len(msgs) == 0 {
		return true // Faye's keep-alive "[]"
	}
	if out, _ := s.process(ctx, c, msgs); len(out) > 0 {
		wc.send(out...)
	}
	return true
}

// send queues messages for the next frame; false when the connection is gone. The pending
// list is bounded like a session queue: on overflow the oldest are dropped and counted, but
// never the messages of this call — a connect reply's events were already bounded by the
// session's queue, and with ack dropping one here would lose it (the client acknowledges
// the whole batch).
func (wc *wsConn) send(msgs ...[]byte) bool {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if wc.closed || wc.closing {
		return false
	}
	wc.pending = append(wc.pending, msgs...)
	n := sizeOf(msgs)
	wc.pendBytes += n
	b := &wc.srv.bounds
	b.add(n)
	dropped, older := 0, len(wc.pending)-len(msgs)
	for dropped < older && b.over(len(wc.pending), int64(wc.pendBytes)) {
		m := wc.pending[0]
		wc.pending[0] = nil
		wc.pending = wc.pending[1:]
		wc.pendBytes -= len(m)
		b.release(len(m))
		dropped++
	}
	if dropped > 0 {
		wc.srv.dropped(dropped, "websocket", "too slow")
	}
	wc.startWriterLocked()
	return true
}

// startWriterLocked starts the writer unless one runs. The reader goroutine is alive while
// !closed, so the server's WaitGroup is above zero here.
func (wc *wsConn) startWriterLocked() {
	if wc.writing || wc.closed {
		return
	}
	wc.writing = true
	wc.writers.Add(1)
	go wc.writeLoop()
}

// pinger pings every websocket that wrote nothing for PingPeriod: one goroutine and one
// ticker for all connections instead of a timer each. It runs from the first websocket until
// Shutdown closes stop.
func (s *Server) pinger(stop <-chan struct{}) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.PingPeriod / 2)
	defer t.Stop()
	var conns []*wsConn
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		s.mu.RLock()
		for c := range s.wsConns {
			conns = append(conns, c)
		}
		s.mu.RUnlock()
		idleSince := time.Now().Add(-s.cfg.PingPeriod).UnixNano()
		for _, c := range conns {
			if c.lastWrite.Load() <= idleSince {
				c.pingNow()
			}
		}
		clear(conns)
		conns = conns[:0]
	}
}

func (wc *wsConn) pingNow() {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	wc.pingDue = true
	wc.startWriterLocked()
}

// writeLoop writes until nothing is left, then ends.
func (wc *wsConn) writeLoop() {
	s := wc.srv
	defer wc.writers.Done()
	for {
		wc.mu.Lock()
		msgs, ping, closing := wc.pending, wc.pingDue, wc.closing
		wc.pending, wc.spare, wc.pingDue = wc.spare[:0], nil, false
		s.bounds.release(wc.pendBytes) // being written now: out of the queue
		wc.pendBytes = 0
		if wc.closed || (len(msgs) == 0 && !ping && !closing) {
			wc.writing = false
			wc.mu.Unlock()
			return
		}
		wc.mu.Unlock()
		if len(msgs) > 0 {
			_ = wc.conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
			if err := wc.writeFrame(msgs); err != nil {
				wc.fail()
				return
			}
			s.stats.out.Add(uint64(len(msgs)))
			wc.lastWrite.Store(time.Now().UnixNano())
			if cap(msgs) <= 16 {
				clear(msgs)
				wc.mu.Lock()
				wc.spare = msgs[:0] // reused by the next frame: no allocation per delivery
				wc.mu.Unlock()
			}
		}
		if ping {
			if err := wc.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.cfg.WriteTimeout)); err != nil {
				wc.fail()
				return
			}
			wc.lastWrite.Store(time.Now().UnixNano())
		}
		if closing {
			msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down")
			_ = wc.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			wc.fail()
			return
		}
	}
}

// writeFrame writes msgs as one JSON array frame straight into the connection's pooled
// write buffer (no per-frame buffer: fewer allocations, less GC on the delivery path).
func (wc *wsConn) writeFrame(msgs [][]byte) error {
	w, err := wc.conn.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	for i, m := range msgs {
		sep := comma
		if i == 0 {
			sep = openBracket
		}
		if _, err := w.Write(sep); err != nil {
			return err
		}
		if _, err := w.Write(m); err != nil {
			return err
		}
	}
	if _, err := w.Write(closeBracket); err != nil {
		return err
	}
	return w.Close()
}

var (
	openBracket  = []byte("[")
	comma        = []byte(",")
	closeBracket = []byte("]")
)

// fail ends the writer after an error or the close frame: closing the connection makes the
// reader return and clean up.
func (wc *wsConn) fail() {
	wc.mu.Lock()
	wc.writing = false
	wc.closed = true
	wc.mu.Unlock()
	_ = wc.conn.Close()
}

// closeGracefully flushes what is queued, sends a going-away close frame and closes.
func (wc *wsConn) closeGracefully() {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	wc.closing = true
	wc.startWriterLocked()
}

// closeWith sends a close frame with code (protocol error), from the reader.
func (wc *wsConn) closeWith(code int, text string) {
	msg := websocket.FormatCloseMessage(code, text)
	_ = wc.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
}

// kill closes the connection at once and cancels its handlers' context (Shutdown past its
// deadline).
func (wc *wsConn) kill() {
	wc.mu.Lock()
	cancel := wc.cancel
	wc.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	_ = wc.conn.Close()
}

// attach records that sess uses this connection. Called with sess.mu held.
func (wc *wsConn) attach(sess *session) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if wc.closed || wc.detached {
		return
	}
	switch {
	case wc.one == nil || wc.one == sess:
		wc.one = sess
	default:
		if wc.more == nil {
			wc.more = map[*session]struct{}{}
		}
		wc.more[sess] = struct{}{}
	}
	sess.ws = wc
}

// detachSessions runs after the connection ended: its sessions lose their transport (and a
// connect held on it) and start counting towards expiry.
func (wc *wsConn) detachSessions() {
	wc.mu.Lock()
	sessions := make([]*session, 0, 1+len(wc.more))
	if wc.one != nil {
		sessions = append(sessions, wc.one)
	}
	for sess := range wc.more {
		sessions = append(sessions, sess)
	}
	wc.one, wc.more, wc.detached = nil, nil, true
	wc.mu.Unlock()
	for _, sess := range sessions {
		sess.mu.Lock()
		if sess.ws == wc {
			sess.ws = nil
		}
		if h := sess.held; h != nil && h.conn == wc {
			sess.held = nil
			if !sess.removed {
				sess.armExpiryLocked()
			}
		}
		sess.mu.Unlock()
	}
}
