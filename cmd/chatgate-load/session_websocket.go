package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// wsSession is a Bayeux client over one websocket. One goroutine (the caller of open, then of
// run) reads; writes from it and from publish are serialised by wmu.
type wsSession struct {
	url    string
	dialer *websocket.Dialer
	sink   sink
	ack    bool

	conn      *websocket.Conn
	wmu       sync.Mutex
	nextID    atomic.Int64
	clientID  string
	ackOn     bool
	batch     int64
	timeoutMS int64
	channels  []string
	subsLeft  int
	ready     bool
	stopping  atomic.Bool
}

func newWSSession(url string, dialer *websocket.Dialer, s sink, ack bool) *wsSession {
	return &wsSession{url: url, dialer: dialer, sink: s, ack: ack}
}

func (s *wsSession) id() string { return strconv.FormatInt(s.nextID.Add(1), 10) }

func (s *wsSession) write(msgs []message) error {
	b, err := json.Marshal(msgs)
	if err != nil {
		return fmt.Errorf("marshal: %w", err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("websocket write: %w", err)
	}
	return nil
}

func (s *wsSession) handshakeMsg() message {
	m := message{Channel: "/meta/handshake", ID: s.id(), Version: "1.0", SupportedConnectionTypes: []string{"websocket"}}
	if s.ack {
		m.Ext = json.RawMessage(`{"ack":true}`)
	}
	return m
}

func (s *wsSession) connectMsg(first bool) message {
	m := message{Channel: "/meta/connect", ClientID: s.clientID, ID: s.id(), ConnectionType: "websocket"}
	if first {
		m.Advice = &advice{Timeout: &zero}
	}
	if s.ackOn {
		m.Ext = json.RawMessage(`{"ack":` + strconv.FormatInt(s.batch, 10) + `}`)
	}
	return m
}

func (s *wsSession) open(ctx context.Context, channels []string) error {
	s.channels = channels
	conn, _, err := s.dialer.DialContext(ctx, s.url, nil)
	if err != nil {
		return fmt.Errorf("dial %s: %w", s.url, err)
	}
	s.conn = conn
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if err := s.write([]message{s.handshakeMsg()}); err != nil {
		return err
	}
	for !s.ready {
		if err := s.readOnce(); err != nil {
			_ = conn.Close()
			return fmt.Errorf("opening session: %w", err)
		}
	}
	return nil
}

func (s *wsSession) run(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		s.stopping.Store(true)
		_ = s.conn.Close()
	})
	defer stop()
	for {
		if err := s.readOnce(); err != nil {
			if !s.stopping.Load() && ctx.Err() == nil {
				s.sink.event("read-error")
			}
			return
		}
	}
}

func (s *wsSession) readOnce() error {
	_ = s.conn.SetReadDeadline(time.Now().Add(connectTimeout(s.timeoutMS)))
	_, b, err := s.conn.ReadMessage()
	if err != nil {
		return fmt.Errorf("websocket read: %w", err)
	}
	at := time.Now()
	var msgs []message
	if err := json.Unmarshal(b, &msgs); err != nil {
		return fmt.Errorf("decoding %q: %w", truncate(b), err)
	}
	return s.handle(msgs, at)
}

func (s *wsSession) handle(msgs []message, at time.Time) error {
	var out []message
	for i := range msgs {
		m := &msgs[i]
		switch m.Channel {
		case "/meta/handshake":
			if !m.ok() {
				return fmt.Errorf("handshake %s: %w", m.Error, errUnsuccessful)
			}
			s.clientID = m.ClientID
			s.ackOn = s.ack && ackEnabled(m.Ext)
			s.batch = 0
			s.subsLeft = len(s.channels)
			for _, ch := range s.channels {
				out = append(out, message{Channel: "/meta/subscribe", ClientID: s.clientID, ID: s.id(), Subscription: quoted(ch)})
			}
			out = append(out, s.connectMsg(true))
		case "/meta/subscribe":
			if !m.ok() {
				return fmt.Errorf("subscribe %s %s: %w", m.Subscription, m.Error, errUnsuccessful)
			}
			s.subsLeft--
		case "/meta/connect":
			if m.Advice != nil && m.Advice.Timeout != nil && *m.Advice.Timeout > 0 {
				s.timeoutMS = *m.Advice.Timeout
			}
			if !m.ok() {
				if m.Advice != nil && m.Advice.Reconnect == "handshake" {
					s.sink.event("rehandshake")
					out = append(out, s.handshakeMsg())
					continue
				}
				s.sink.event("connect-unsuccessful")
			} else {
				if b := batchOf(m.Ext); b > 0 {
					s.batch = b
				}
				s.sink.event("connect")
				if s.subsLeft == 0 {
					s.ready = true
				}
			}
			if m.Advice != nil && m.Advice.Reconnect == "none" {
				return fmt.Errorf("server advised reconnect none: %w", errUnsuccessful)
			}
			if !s.stopping.Load() {
				out = append(out, s.connectMsg(false))
			}
		case "/meta/disconnect", "/meta/unsubscribe":
		default:
			if m.Data == nil {
				// A publish acknowledgement.
				s.sink.publishAck(m.ok())
				continue
			}
			s.sink.deliver(m.Channel, m.Data, at)
		}
	}
	if len(out) > 0 {
		return s.write(out)
	}
	return nil
}

func (s *wsSession) publish(_ context.Context, channel string, data []byte) error {
	return s.write([]message{{Channel: channel, ClientID: s.clientID, ID: s.id(), Data: data}})
}

func (s *wsSession) close(context.Context) {
	s.stopping.Store(true)
	if s.conn == nil {
		return
	}
	_ = s.write([]message{{Channel: "/meta/disconnect", ClientID: s.clientID, ID: s.id()}})
	_ = s.conn.Close()
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
