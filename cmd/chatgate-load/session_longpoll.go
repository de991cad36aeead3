package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// lpSession is a Bayeux client over long-polling: one goroutine loops on /meta/connect; each
// session keeps its own cookies (BAYEUX_BROWSER), so the server sees one browser per client.
type lpSession struct {
	base   string
	client *http.Client
	sink   sink
	ack    bool

	nextID    atomic.Int64
	mu        sync.Mutex // guards cookies and clientID (publish runs beside the connect loop)
	cookies   map[string]string
	clientID  string
	ackOn     bool
	batch     int64
	timeoutMS int64
	channels  []string
}

func newLPSession(base string, client *http.Client, s sink, ack bool) *lpSession {
	return &lpSession{base: strings.TrimRight(base, "/"), client: client, sink: s, ack: ack, cookies: map[string]string{}}
}

func (s *lpSession) id() string { return strconv.FormatInt(s.nextID.Add(1), 10) }

func (s *lpSession) cid() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clientID
}

// post sends msgs to base/suffix and decodes the reply array.
func (s *lpSession) post(ctx context.Context, suffix string, msgs []message, timeout time.Duration) ([]message, time.Time, error) {
	b, err := json.Marshal(msgs)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("marshal: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/"+suffix, bytes.NewReader(b))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	s.mu.Lock()
	for _, c := range s.cookies {
		req.Header.Add("Cookie", c)
	}
	s.mu.Unlock()
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("POST %s: %w", suffix, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	at := time.Now()
	if err != nil {
		return nil, at, fmt.Errorf("reading reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, at, fmt.Errorf("POST %s: HTTP %d %q: %w", suffix, resp.StatusCode, truncate(body), errUnsuccessful)
	}
	s.mu.Lock()
	for _, c := range resp.Cookies() {
		s.cookies[c.Name] = c.Name + "=" + c.Value
	}
	s.mu.Unlock()
	var out []message
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, at, fmt.Errorf("decoding %q: %w", truncate(body), err)
	}
	return out, at, nil
}

func (s *lpSession) handshake(ctx context.Context) error {
	m := message{Channel: "/meta/handshake", ID: s.id(), Version: "1.0", SupportedConnectionTypes: []string{"long-polling"}}
	if s.ack {
		m.Ext = json.RawMessage(`{"ack":true}`)
	}
	replies, _, err := s.post(ctx, "handshake", []message{m}, 20*time.Second)
	if err != nil {
		return err
	}
	for _, r := range replies {
		if r.Channel != "/meta/handshake" {
			continue
		}
		if !r.ok() {
			return fmt.Errorf("handshake %s: %w", r.Error, errUnsuccessful)
		}
		s.mu.Lock()
		s.clientID = r.ClientID
		s.mu.Unlock()
		s.ackOn = s.ack && ackEnabled(r.Ext)
		s.batch = 0
		// Subscribe and send the first (immediate) connect in one request.
		var out []message
		for _, ch := range s.channels {
			out = append(out, message{Channel: "/meta/subscribe", ClientID: r.ClientID, ID: s.id(), Subscription: quoted(ch)})
		}
		out = append(out, s.connectMsg(true))
		replies, at, err := s.post(ctx, "", out, 20*time.Second)
		if err != nil {
			return err
		}
		subs := 0
		for _, r := range replies {
			if r.Channel == "/meta/subscribe" {
				if !r.ok() {
					return fmt.Errorf("subscribe %s %s: %w", r.Subscription, r.Error, errUnsuccessful)
				}
				subs++
			}
		}
		if subs != len(s.channels) {
			return fmt.Errorf("%d of %d subscribe replies: %w", subs, len(s.channels), errNoReply)
		}
		if _, err := s.handle(replies, at); err != nil {
			return err
		}
		return nil
	}
	return fmt.Errorf("handshake: %w", errNoReply)
}

func (s *lpSession) connectMsg(first bool) message {
	m := message{Channel: "/meta/connect", ClientID: s.cid(), ID: s.id(), ConnectionType: "long-polling"}
	if first {
		m.Advice = &advice{Timeout: &zero}
	}
	if s.ackOn {
		m.Ext = json.RawMessage(`{"ack":` + strconv.FormatInt(s.batch, 10) + `}`)
	}
	return m
}

func (s *lpSession) open(ctx context.Context, channels []string) error {
	s.channels = channels
	return s.handshake(ctx)
}

// handle processes one reply array; it reports whether the server asked for a new handshake.
func (s *lpSession) handle(msgs []message, at time.Time) (rehandshake bool, err error) {
	for i := range msgs {
		m := &msgs[i]
		switch m.Channel {
		case "/meta/connect":
			if m.Advice != nil && m.Advice.Timeout != nil && *m.Advice.Timeout > 0 {
				s.timeoutMS = *m.Advice.Timeout
			}
			if !m.ok() {
				if m.Advice != nil && m.Advice.Reconnect == "handshake" {
					rehandshake = true
					continue
				}
				s.sink.event("connect-unsuccessful")
				continue
			}
			if b := batchOf(m.Ext); b > 0 {
				s.batch = b
			}
			s.sink.event("connect")
			if m.Advice != nil && m.Advice.Reconnect == "none" {
				return false, fmt.Errorf("server advised reconnect none: %w", errUnsuccessful)
			}
		case "/meta/handshake", "/meta/subscribe", "/meta/unsubscribe", "/meta/disconnect":
		default:
			if m.Data == nil {
				s.sink.publishAck(m.ok())
				continue
			}
			s.sink.deliver(m.Channel, m.Data, at)
		}
	}
	return rehandshake, nil
}

func (s *lpSession) run(ctx context.Context) {
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		replies, at, err := s.post(ctx, "connect", []message{s.connectMsg(false)}, connectTimeout(s.timeoutMS))
		if err == nil {
			var re bool
			re, err = s.handle(replies, at)
			if err == nil && re {
				s.sink.event("rehandshake")
				err = s.handshake(ctx)
			}
		}
		if err == nil {
			backoff = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		s.sink.event("connect-error")
		// CometD-style back-off: +1 s per consecutive failure, at most 10 s here.
		backoff = min(backoff+time.Second, 10*time.Second)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (s *lpSession) publish(ctx context.Context, channel string, data []byte) error {
	replies, at, err := s.post(ctx, "", []message{{Channel: channel, ClientID: s.cid(), ID: s.id(), Data: data}}, 20*time.Second)
	if err != nil {
		if ctx.Err() == nil {
			s.sink.publishAck(false)
		}
		return err
	}
	_, err = s.handle(replies, at)
	return err
}

func (s *lpSession) close(ctx context.Context) {
	_, _, _ = s.post(ctx, "disconnect", []message{{Channel: "/meta/disconnect", ClientID: s.cid(), ID: s.id()}}, 5*time.Second)
}
