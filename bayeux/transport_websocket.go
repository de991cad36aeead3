package bayeux

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is one websocket. The request goroutine reads (and processes messages in order);
// one writer goroutine owns every write, sending what send() queued as one JSON array per
// frame, plus pings. Sessions attach to the connection they last connected on.
type wsConn struct {
	srv  *Server
	conn *websocket.Conn

	mu       sync.Mutex
	pending  [][]byte
	closed   bool // writer gone: send refuses
	closing  bool // flush, then close frame
	sessions map[*session]struct{}

	wake       chan struct{} // capacity 1
	quit       chan struct{} // closed when the reader ended
	writerDone chan struct{}
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
	wc := &wsConn{
		srv: s, conn: wsc, sessions: map[*session]struct{}{},
		wake: make(chan struct{}, 1), quit: make(chan struct{}), writerDone: make(chan struct{}),
	}
	c.ws = wc
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = wsc.Close()
		return
	}
	s.wsConns[wc] = struct{}{}
	s.wg.Add(1) // the writer
	s.mu.Unlock()
	s.stats.ws.Add(1)
	go wc.writeLoop()

	wc.readLoop(c)

	close(wc.quit)
	<-wc.writerDone
	_ = wsc.Close()
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
		msgs, err := decodeBatch(data, s.lim)
		if err != nil {
			s.log.Debug("bayeux malformed websocket frame", "err", err)
			wc.closeWith(websocket.CloseInvalidFramePayloadData, "malformed Bayeux message")
			return
		}
		if len(msgs) == 0 {
			continue // Faye's keep-alive "[]"
		}
		if out, _ := s.process(ctx, c, msgs); len(out) > 0 {
			wc.send(out...)
		}
	}
}

// send queues messages for the next frame; false when the connection is gone. The pending
// list is bounded like a session queue: on overflow the oldest are dropped and counted.
func (wc *wsConn) send(msgs ...[]byte) bool {
	wc.mu.Lock()
	if wc.closed || wc.closing {
		wc.mu.Unlock()
		return false
	}
	wc.pending = append(wc.pending, msgs...)
	if over := len(wc.pending) - wc.srv.cfg.MaxQueue; over > 0 {
		clear(wc.pending[:over])
		wc.pending = wc.pending[over:]
		wc.srv.stats.drops.Add(uint64(over))
		wc.srv.log.Warn("bayeux websocket too slow: dropped oldest messages", "dropped", over)
	}
	wc.mu.Unlock()
	select {
	case wc.wake <- struct{}{}:
	default:
	}
	return true
}

// attach records that sess uses this connection. Called with sess.mu held.
func (wc *wsConn) attach(sess *session) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if wc.closed || wc.sessions == nil {
		return
	}
	wc.sessions[sess] = struct{}{}
	sess.ws = wc
}

// detachSessions runs after the connection ended: its sessions lose their transport (and a
// connect held on it) and start counting towards expiry.
func (wc *wsConn) detachSessions() {
	wc.mu.Lock()
	sessions := wc.sessions
	wc.sessions = nil
	wc.mu.Unlock()
	for sess := range sessions {
		sess.mu.Lock()
		if sess.ws == wc {
			sess.ws = nil
		}
		if h := sess.held; h != nil && h.conn == wc {
			sess.held = nil
			h.timer.Stop()
			if !sess.removed {
				sess.armExpiryLocked()
			}
		}
		sess.mu.Unlock()
	}
}

func (wc *wsConn) writeLoop() {
	s := wc.srv
	defer s.wg.Done()
	defer close(wc.writerDone)
	defer func() {
		wc.mu.Lock()
		wc.closed = true
		clear(wc.pending)
		wc.pending = nil
		wc.mu.Unlock()
	}()
	ping := time.NewTicker(s.cfg.PingPeriod)
	defer ping.Stop()
	var buf bytes.Buffer
	for {
		select {
		case <-wc.quit:
			return
		case <-ping.C:
			if err := wc.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.cfg.WriteTimeout)); err != nil {
				_ = wc.conn.Close()
				return
			}
		case <-wc.wake:
			wc.mu.Lock()
			msgs, closing := wc.pending, wc.closing
			wc.pending = nil
			wc.mu.Unlock()
			if len(msgs) > 0 {
				buf.Reset()
				encodeArray(&buf, msgs)
				_ = wc.conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
				if err := wc.conn.WriteMessage(websocket.TextMessage, buf.Bytes()); err != nil {
					_ = wc.conn.Close()
					return
				}
				s.stats.out.Add(uint64(len(msgs)))
				if buf.Cap() > 64<<10 {
					buf = bytes.Buffer{} // do not keep a large buffer per idle connection
				}
			}
			if closing {
				msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down")
				_ = wc.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
				_ = wc.conn.Close()
				return
			}
		}
	}
}

// closeGracefully flushes what is queued, sends a going-away close frame and closes.
func (wc *wsConn) closeGracefully() {
	wc.mu.Lock()
	wc.closing = true
	wc.mu.Unlock()
	select {
	case wc.wake <- struct{}{}:
	default:
	}
}

// closeWith sends a close frame with code (protocol error) and closes, from the reader.
func (wc *wsConn) closeWith(code int, text string) {
	msg := websocket.FormatCloseMessage(code, text)
	_ = wc.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
}

// kill closes the connection at once (Shutdown past its deadline).
func (wc *wsConn) kill() { _ = wc.conn.Close() }
