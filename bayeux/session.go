package bayeux

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"sync"
	"time"
)

// RemoveReason says why a session ended.
type RemoveReason int

// Reasons a session is removed.
const (
	ReasonDisconnect RemoveReason = iota + 1 // the client sent /meta/disconnect
	ReasonExpired                            // no /meta/connect for MaxInterval
	ReasonShutdown                           // Server.Shutdown
)

func (r RemoveReason) String() string {
	switch r {
	case ReasonDisconnect:
		return "disconnect"
	case ReasonExpired:
		return "expired"
	case ReasonShutdown:
		return "shutdown"
	}
	return "unknown"
}

// SessionInfo describes a session to hooks and service handlers. It is a copy.
type SessionInfo struct {
	ID           string          // the Bayeux clientId
	Browser      string          // the BAYEUX_BROWSER id the session belongs to
	Transport    string          // transport of the handshake or of the latest connect
	Remote       string          // remote address at handshake
	HandshakeExt json.RawMessage // ext of the handshake (authentication data, ...)
	// Principal is what the policy's HandshakeAuthenticator returned for the handshake.
	Principal any
}

// session is one Bayeux client. Lock order: session.mu before Server.mu.
type session struct {
	srv     *Server
	id      string
	browser string
	remote  string
	hsExt   json.RawMessage
	// principal is the HandshakeAuthenticator's answer (immutable).
	principal any

	mu         sync.Mutex
	transport  string
	queue      [][]byte // encoded messages not yet handed to a transport
	queueBytes int      // encoded size of queue and ack.inflight together
	subs       map[string]struct{}
	ack        ackState
	held       *held   // the /meta/connect being held, if any
	ws         *wsConn // websocket the session is attached to, if any
	connected  bool    // a first connect was answered
	removed    bool
	expireAt   time.Time
	timer      *time.Timer // one per session: a held websocket connect's deadline, else expiry
}

func (s *session) info() SessionInfo {
	return SessionInfo{ID: s.id, Browser: s.browser, Transport: s.transport, Remote: s.remote, HandshakeExt: s.hsExt, Principal: s.principal}
}

// held is a /meta/connect waiting for messages or its timeout.
type held struct {
	msgID     json.RawMessage
	transport string
	// polling transports: the request goroutine waits on done; state says who closed it.
	done  chan struct{}
	state heldState
	final [][]byte // reply written when the session was removed while held
	// websocket: answered by whoever wakes it, on conn.
	conn     *wsConn
	deadline time.Time // websocket: when the session timer answers it
	// counted: a long-poll counted in its browser's held long-polls (multiple-clients).
	counted bool
	ts      *timesyncIn
}

type heldState int

const (
	heldWaiting heldState = iota
	heldWoken
	heldSuperseded
	heldRemoved
)

func (h *held) polling() bool { return h.conn == nil }

// newID returns 160 random bits in base32 (lower case, no padding): 32 characters of
// [a-z2-7], alphanumeric as the spec asks.
func newID() string {
	var b [20]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return idEncoding.EncodeToString(b[:])
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// validBrowserID accepts cookie values we could have minted (and similar safe tokens).
func validBrowserID(v string) bool {
	if len(v) < 16 || len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// enqueueLocked hands one encoded message to the session: straight to its websocket when
// it has one and no ack, else onto the bounded queue, waking a held connect.
func (s *session) enqueueLocked(msg []byte) {
	if s.removed {
		return
	}
	if s.ws != nil && !s.ack.enabled && s.connected {
		if s.ws.send(msg) {
			return
		}
	}
	s.queue = append(s.queue, msg)
	s.queueBytes += len(msg)
	s.srv.bounds.add(len(msg))
	s.trimLocked()
	s.wakeLocked()
}

// trimLocked drops the oldest messages, unacknowledged ones first, while the queue is over a
// bound (count, bytes, the server's byte budget).
func (s *session) trimLocked() {
	b := &s.srv.bounds
	dropped := 0
	for b.over(len(s.queue)+len(s.ack.inflight), int64(s.queueBytes)) {
		var m []byte
		if len(s.ack.inflight) > 0 {
			// Not cleared: the slice may be shared with a reply being written.
			m, s.ack.inflight = s.ack.inflight[0], s.ack.inflight[1:]
		} else {
			m = s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
		}
		s.queueBytes -= len(m)
		b.release(len(m))
		dropped++
	}
	if dropped > 0 {
		s.srv.dropped(dropped, "session", s.id)
	}
}

// releaseLocked forgets n bytes that left the session (taken by a reply, acknowledged).
func (s *session) releaseLocked(n int) {
	s.queueBytes -= n
	s.srv.bounds.release(n)
}

// pendingLocked reports whether a connect reply would carry messages now.
func (s *session) pendingLocked() bool { return len(s.queue) > 0 || len(s.ack.inflight) > 0 }

// wakeLocked answers the held connect because messages are waiting.
func (s *session) wakeLocked() {
	h := s.held
	if h == nil {
		return
	}
	s.held = nil
	if h.polling() {
		s.srv.releaseHeld(s, h)
		h.state = heldWoken
		close(h.done)
		return
	}
	out := s.connectReplyLocked(h.msgID, h.ts)
	s.armExpiryLocked()
	h.conn.send(out...)
}

// takeEventsLocked removes what the next connect reply carries. With ack, the messages not
// yet acknowledged are sent again first, and everything sent becomes the new batch.
func (s *session) takeEventsLocked() (events [][]byte, batch int64) {
	if !s.ack.enabled {
		events, s.queue = s.queue, nil
		s.releaseLocked(s.queueBytes)
		return events, 0
	}
	// With ack everything sent stays accounted until acknowledged.
	events = append(s.ack.inflight, s.queue...)
	s.queue = nil
	batch = s.ack.next
	s.ack.next++
	s.ack.inflight, s.ack.inflightBatch = events, batch
	return events, batch
}

// connectReplyLocked builds the queued events followed by the successful connect reply.
func (s *session) connectReplyLocked(id json.RawMessage, ts *timesyncIn) [][]byte {
	events, batch := s.takeEventsLocked()
	r := reply{Channel: "/meta/connect", ID: id, Successful: true, Advice: s.srv.retryAdvice()}
	r.Ext = replyExt(batch, s.ack.enabled, ts)
	out := make([][]byte, 0, len(events)+1)
	out = append(out, events...)
	return append(out, mustEncode(r))
}

// armExpiryLocked (re)starts the countdown to expiry: Interval + MaxInterval from now.
func (s *session) armExpiryLocked() {
	d := s.srv.cfg.Interval + s.srv.cfg.MaxInterval
	s.expireAt = time.Now().Add(d)
	s.resetTimerLocked(d)
}

// resetTimerLocked points the session timer d from now (one runtime timer per session, not
// one per held connect: they are a large part of an idle session's memory).
func (s *session) resetTimerLocked(d time.Duration) {
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.onTimer)
		return
	}
	s.timer.Reset(d)
}

// onTimer answers a websocket connect held for its whole timeout, or expires the session.
// A held long-poll has its own timer on its request goroutine; while it is held the session
// cannot expire.
func (s *session) onTimer() {
	s.mu.Lock()
	if s.removed {
		s.mu.Unlock()
		return
	}
	now := time.Now()
	if h := s.held; h != nil {
		if h.polling() {
			s.mu.Unlock()
			return
		}
		if now.Before(h.deadline) {
			s.timer.Reset(h.deadline.Sub(now))
			s.mu.Unlock()
			return
		}
		s.held = nil
		out := s.connectReplyLocked(h.msgID, h.ts)
		s.armExpiryLocked()
		h.conn.send(out...)
		s.mu.Unlock()
		return
	}
	if now.Before(s.expireAt) {
		s.timer.Reset(s.expireAt.Sub(now))
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.srv.removeSession(s, ReasonExpired, nil)
}
