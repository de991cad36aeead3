package bayeux

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"
)

// conn describes where a batch of messages came from.
type conn struct {
	transport string
	browser   string // BAYEUX_BROWSER id of the request or connection ("" if none)
	hadCookie bool   // browser came from the request's cookie
	setCookie bool   // a handshake minted browser: the HTTP response must set the cookie
	ws        *wsConn
	remote    string
	header    http.Header // the HTTP request's (the websocket upgrade's), for the policy
	host      string
}

// process handles a batch in order and returns the encoded replies. Over polling transports
// the last /meta/connect is returned unanswered for the caller to hold; over a websocket it
// is answered (or held) here.
func (s *Server) process(ctx context.Context, c *conn, msgs []inMessage) (out [][]byte, connect *inMessage) {
	for i := range msgs {
		m := &msgs[i]
		s.stats.in.Add(1)
		if m.tooLarge {
			out = append(out, mustEncode(errorReply(m, errMessageTooLarge)))
			continue
		}
		switch m.Channel {
		case "":
			out = append(out, mustEncode(errorReply(m, errChannelMissing)))
		case "/meta/handshake":
			out = append(out, s.handshake(ctx, c, m))
		case "/meta/connect":
			if c.ws != nil {
				out = append(out, s.connectWS(ctx, c, m)...)
				continue
			}
			if connect != nil {
				// A client keeps one connect outstanding; answer the earlier one at once.
				r := errorReply(connect, &Error{Code: 409, Message: "duplicate_connect"})
				r.Advice = &Advice{Reconnect: ReconnectRetry}
				out = append(out, mustEncode(r))
			}
			connect = m
		case "/meta/subscribe":
			out = append(out, s.subscribe(ctx, c, m, true))
		case "/meta/unsubscribe":
			out = append(out, s.subscribe(ctx, c, m, false))
		case "/meta/disconnect":
			out = append(out, s.disconnect(c, m))
		default:
			if isMeta(m.Channel) {
				out = append(out, mustEncode(errorReply(m, errUnknownMeta)))
				continue
			}
			out = append(out, s.publish(ctx, c, m))
		}
	}
	return out, connect
}

func errorReply(m *inMessage, err *Error) reply {
	r := reply{Channel: m.Channel, ID: m.ID, Successful: false, Error: err.Error()}
	if err == errSessionUnknown {
		r.Advice = &Advice{Reconnect: ReconnectHandshake, Interval: 0}
	}
	if m.Channel == "/meta/subscribe" || m.Channel == "/meta/unsubscribe" {
		r.Subscription = m.Subscription
	}
	return r
}

// lookup finds the session of a message, refusing (nil) a session of another browser: a
// request or socket that carries the BAYEUX_BROWSER cookie of a browser with live sessions
// must carry the session's. One
// without the cookie is accepted on every transport: the clientId (160 random bits) is the
// secret, and many clients send no cookie at all — non-browser websocket clients, Faye's
// websocket, and the Genesys widget's long-polling XHRs (withCredentials false), which would
// otherwise be answered 402 on every /meta/connect and handshake forever. The cookie adds
// protection only when present (docs/bayeux.md, "cookie check").
func (s *Server) lookup(c *conn, clientID string) *session {
	if clientID == "" {
		return nil
	}
	sess := s.session(clientID)
	if sess == nil || s.cfg.TrustClientSession {
		return sess
	}
	if !c.hadCookie {
		return sess
	}
	if c.browser != sess.browser && s.browserHasSessions(c.browser) {
		s.log.Debug("bayeux clientId presented with another browser's cookie", "session", clientID)
		return nil
	}
	return sess
}

// browserHasSessions reports whether a browser id owns live sessions. A cookie that owns
// none protects nothing and is treated like no cookie: it is typically one the server set
// on a websocket upgrade that raced the long-polling handshake (Faye probes the websocket
// before its handshake answer arrives, and keeps whichever Set-Cookie came last), and
// refusing it would make the client re-handshake for no reason.
func (s *Server) browserHasSessions(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.browsers[id]
	return b != nil && len(b.sessions) > 0
}

func (s *Server) handshake(ctx context.Context, c *conn, m *inMessage) []byte {
	fail := func(err *Error, reconnect string) []byte {
		r := errorReply(m, err)
		r.Advice = &Advice{Reconnect: reconnect}
		r.SupportedConnectionTypes = supportedTypes
		r.Version = "1.0"
		return mustEncode(r)
	}
	if m.Version != "" && m.Version[0] < '1' {
		return fail(errVersion, ReconnectNone)
	}
	if len(m.SupportedConnectionTypes) > 0 && !slices.ContainsFunc(m.SupportedConnectionTypes, func(t string) bool {
		return slices.Contains(supportedTypes, t)
	}) {
		return fail(errConnTypes, ReconnectNone)
	}
	if s.hsLimit != nil {
		if ok, wait := s.hsLimit.allow(addrKey(c.remote), time.Now()); !ok {
			s.refuse(refusedHandshakeRate, "bayeux handshake refused: too many handshakes from one address", "remote", c.remote)
			// Advice the stock clients follow: handshake again, after the interval (CometD
			// adds its back-off to it), instead of hammering.
			r := errorReply(m, errHandshakeRate)
			r.Advice = &Advice{Reconnect: ReconnectHandshake, Interval: min(max(wait, time.Second), time.Minute).Milliseconds()}
			r.SupportedConnectionTypes = supportedTypes
			r.Version = "1.0"
			return mustEncode(r)
		}
	}
	if c.browser == "" {
		c.browser, c.setCookie = newID(), true
	}
	var principal any
	if p := s.cfg.Policy; p != nil {
		var err *Error
		principal, err = handshakeVerdict(ctx, p, HandshakeInfo{Browser: c.browser, Transport: c.transport, Remote: c.remote, Ext: m.Ext, Header: c.header, Host: c.host})
		if err != nil {
			return fail(err, ReconnectNone)
		}
	}
	e := parseExt(m.Ext, time.Now())
	sess := &session{
		srv: s, id: newID(), browser: c.browser, remote: c.remote, transport: c.transport,
		hsExt: m.Ext, principal: principal, subs: map[string]struct{}{},
	}
	sess.ack.enabled = e.ackRequested()
	sess.ack.next = 1

	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return fail(errShuttingDown, ReconnectHandshake)
	}
	b := s.browsers[c.browser]
	if b == nil {
		b = &browser{sessions: map[*session]struct{}{}}
		s.browsers[c.browser] = b
	}
	if s.cfg.MaxLiveSessionsPerBrowser > 0 && len(b.sessions) >= s.cfg.MaxLiveSessionsPerBrowser {
		s.mu.Unlock()
		s.refuse(refusedBrowserSessions, "bayeux handshake refused: too many sessions for one browser", "max", s.cfg.MaxLiveSessionsPerBrowser, "remote", c.remote)
		return fail(errTooManySessions, ReconnectNone)
	}
	b.sessions[sess] = struct{}{}
	s.sessions[sess.id] = sess
	s.mu.Unlock()

	sess.mu.Lock()
	if c.ws != nil {
		c.ws.attach(sess)
	}
	sess.armExpiryLocked()
	info := sess.info()
	sess.mu.Unlock()
	s.stats.sessions.Add(1)
	s.log.Debug("bayeux session added", "session", sess.id, "transport", c.transport, "ack", sess.ack.enabled)
	s.hookMu.RLock()
	hooks := s.onAdded
	s.hookMu.RUnlock()
	for _, fn := range hooks {
		fn(info)
	}

	r := reply{
		Channel: "/meta/handshake", ID: m.ID, ClientID: sess.id, Successful: true,
		Version: "1.0", MinimumVersion: "1.0", SupportedConnectionTypes: supportedTypes,
		Advice: s.retryAdvice(),
	}
	if sess.ack.enabled || e.Timesync != nil {
		var ext struct {
			Ack      bool         `json:"ack,omitempty"`
			Timesync *timesyncOut `json:"timesync,omitempty"`
		}
		ext.Ack = sess.ack.enabled
		if ts := e.Timesync; ts != nil {
			now := time.Now().UnixMilli()
			ext.Timesync = &timesyncOut{TC: ts.TC, TS: ts.ts, P: now - ts.ts, A: int64(ts.TC+ts.O+ts.L) - ts.ts}
		}
		r.Ext = mustEncode(ext)
	}
	return mustEncode(r)
}

// connectPrelude is the part of /meta/connect common to all transports, with sess locked:
// it applies ext.ack, answers an older held connect, and picks how long to hold this one.
func (s *Server) connectPrelude(sess *session, c *conn, m *inMessage) (hold time.Duration, ts *timesyncIn) {
	sess.transport = c.transport
	if c.ws != nil {
		c.ws.attach(sess)
	}
	e := parseExt(m.Ext, time.Now())
	if sess.ack.enabled {
		if n, ok := e.ackBatch(); ok {
			sess.releaseLocked(sess.ack.acknowledge(n))
		}
	}
	hold = s.cfg.Timeout
	if !sess.connected {
		sess.connected = true // the first connect after a handshake returns at once
		hold = 0
	}
	if a := m.Advice; a != nil && a.Timeout != nil {
		if t := time.Duration(*a.Timeout * float64(time.Millisecond)); t < hold {
			hold = max(t, 0)
		}
	}
	if sess.pendingLocked() {
		hold = 0
	}
	if h := sess.held; h != nil {
		// A new connect answers the older one: over HTTP with status 500 (CometD's
		// duplicateMetaConnectHttpResponseCode), over a websocket silently.
		sess.held = nil
		if h.polling() {
			s.releaseHeld(sess, h)
			h.state = heldSuperseded
			close(h.done)
		}
	}
	return hold, e.Timesync
}

func (s *Server) connectHooks(ctx context.Context, info SessionInfo) {
	s.hookMu.RLock()
	hooks := s.onConnect
	s.hookMu.RUnlock()
	for _, fn := range hooks {
		fn(ctx, info)
	}
}

// connectWS answers a websocket /meta/connect now or holds it on a timer.
func (s *Server) connectWS(ctx context.Context, c *conn, m *inMessage) [][]byte {
	sess := s.lookup(c, m.ClientID)
	if sess == nil {
		return [][]byte{mustEncode(errorReply(m, errSessionUnknown))}
	}
	sess.mu.Lock()
	if sess.removed {
		sess.mu.Unlock()
		return [][]byte{mustEncode(errorReply(m, errSessionUnknown))}
	}
	hold, ts := s.connectPrelude(sess, c, m)
	info := sess.info()
	var out [][]byte
	if hold == 0 {
		out = sess.connectReplyLocked(m.ID, ts)
		sess.armExpiryLocked()
	} else {
		sess.held = &held{msgID: m.ID, transport: c.transport, conn: c.ws, ts: ts, deadline: time.Now().Add(hold)}
		sess.resetTimerLocked(hold)
	}
	sess.mu.Unlock()
	s.connectHooks(ctx, info)
	return out
}

// connectPoll answers a long-polling or callback-polling /meta/connect, holding the request
// until messages arrive, the timeout passes, the client goes away or the server shuts down.
// status is 200, 500 (superseded by a newer connect) or 0 (client gone: write nothing).
func (s *Server) connectPoll(ctx context.Context, c *conn, m *inMessage) (out [][]byte, status int) {
	sess := s.lookup(c, m.ClientID)
	if sess == nil {
		return [][]byte{mustEncode(errorReply(m, errSessionUnknown))}, http.StatusOK
	}
	sess.mu.Lock()
	if sess.removed {
		sess.mu.Unlock()
		return [][]byte{mustEncode(errorReply(m, errSessionUnknown))}, http.StatusOK
	}
	hold, ts := s.connectPrelude(sess, c, m)
	info := sess.info()
	h := &held{msgID: m.ID, transport: c.transport, done: make(chan struct{}), ts: ts}
	multiple := false
	if hold > 0 && s.cfg.MaxHeldPollsPerBrowser > 0 {
		s.mu.Lock()
		if b := s.browsers[sess.browser]; b != nil {
			if b.held >= s.cfg.MaxHeldPollsPerBrowser {
				multiple = true
			} else {
				b.held++
				h.counted = true
			}
		}
		s.mu.Unlock()
	}
	if multiple || hold == 0 {
		if multiple && s.cfg.MultiSessionInterval < 0 {
			r := errorReply(m, &Error{Code: 409, Message: "multiple_clients"})
			r.Advice = &Advice{Reconnect: ReconnectNone, MultipleClients: true}
			out = [][]byte{mustEncode(r)}
		} else {
			out = sess.connectReplyLocked(m.ID, ts)
			if multiple {
				// Replace the reply's advice: this tab polls every MultiSessionInterval.
				t := s.cfg.Timeout.Milliseconds()
				adv := &Advice{Reconnect: ReconnectRetry, Interval: s.cfg.MultiSessionInterval.Milliseconds(), Timeout: &t, MultipleClients: true}
				out[len(out)-1] = mustEncode(reply{Channel: "/meta/connect", ID: m.ID, Successful: true, Advice: adv,
					Ext: lastReplyExt(out[len(out)-1])})
			}
		}
		sess.armExpiryLocked()
		sess.mu.Unlock()
		s.connectHooks(ctx, info)
		return out, http.StatusOK
	}
	sess.held = h
	sess.mu.Unlock()
	s.connectHooks(ctx, info)

	gauge := s.connGauge(c.transport)
	gauge.Add(1)
	timer := time.NewTimer(hold)
	select {
	case <-h.done:
	case <-timer.C:
	case <-ctx.Done():
	}
	timer.Stop()
	gauge.Add(-1)

	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.held == h {
		sess.held = nil
		s.releaseHeld(sess, h)
		if ctx.Err() != nil {
			sess.armExpiryLocked()
			return nil, 0
		}
		h.state = heldWoken
	}
	switch h.state {
	case heldSuperseded:
		return nil, http.StatusInternalServerError
	case heldRemoved:
		return h.final, http.StatusOK
	}
	out = sess.connectReplyLocked(m.ID, ts)
	sess.armExpiryLocked()
	return out, http.StatusOK
}

// lastReplyExt extracts the ext of an encoded reply (the ack batch of a connect reply).
func lastReplyExt(b []byte) json.RawMessage {
	var r struct {
		Ext json.RawMessage `json:"ext"`
	}
	_ = json.Unmarshal(b, &r)
	return r.Ext
}

func (s *Server) disconnect(c *conn, m *inMessage) []byte {
	sess := s.lookup(c, m.ClientID)
	if sess == nil {
		return mustEncode(errorReply(m, errSessionUnknown))
	}
	s.removeSession(sess, ReasonDisconnect, m.Ext)
	return mustEncode(reply{Channel: "/meta/disconnect", ID: m.ID, Successful: true})
}

// subscriptions reads a subscription field: a string or an array of strings.
func subscriptions(raw json.RawMessage) ([]string, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 && len(many) <= 64 {
		return many, true
	}
	return nil, false
}

func (s *Server) subscribe(ctx context.Context, c *conn, m *inMessage, sub bool) []byte {
	sess := s.lookup(c, m.ClientID)
	if sess == nil {
		return mustEncode(errorReply(m, errSessionUnknown))
	}
	chans, ok := subscriptions(m.Subscription)
	if !ok {
		return mustEncode(errorReply(m, errSubscriptionBad))
	}
	sess.mu.Lock()
	info := sess.info()
	sess.mu.Unlock()
	var keep []string
	for _, ch := range chans {
		if !validChannel(ch, true) {
			return mustEncode(errorReply(m, errChannelInvalid))
		}
		if isMeta(ch) {
			return mustEncode(errorReply(m, errSubscribeDenied))
		}
		if isService(ch) {
			continue // a no-op: service messages go to handlers, never to subscribers
		}
		if sub {
			if p := s.cfg.Policy; p != nil && !p.CanSubscribe(ctx, info, ch) {
				return mustEncode(errorReply(m, errSubscribeDenied))
			}
		}
		keep = append(keep, ch)
	}
	sess.mu.Lock()
	if sess.removed {
		sess.mu.Unlock()
		return mustEncode(errorReply(m, errSessionUnknown))
	}
	if sub {
		// All or nothing: the new subscriptions of the message are reserved against the
		// session's, the browser's and the server's caps together.
		added := 0
		for i, ch := range keep {
			if _, had := sess.subs[ch]; !had && !slices.Contains(keep[:i], ch) {
				added++
			}
		}
		if added > 0 && !s.reserveSubs(sess, added) {
			sess.mu.Unlock()
			s.refuse(refusedSubscriptions, "bayeux subscribe refused: too many subscriptions", "session", sess.id, "remote", sess.remote)
			return mustEncode(errorReply(m, errTooManySubs))
		}
	}
	freed := 0
	var changed []string
	for _, ch := range keep {
		_, had := sess.subs[ch]
		switch {
		case sub && !had:
			sess.subs[ch] = struct{}{}
			s.subs.add(ch, sess)
			changed = append(changed, ch)
		case !sub && had:
			delete(sess.subs, ch)
			s.subs.remove(ch, sess)
			freed++
			changed = append(changed, ch)
		}
	}
	s.releaseSubs(sess, freed)
	sess.mu.Unlock()
	if len(changed) > 0 {
		s.hookMu.RLock()
		hooks := s.onSub
		s.hookMu.RUnlock()
		for _, ch := range changed {
			for _, fn := range hooks {
				fn(info, ch, sub)
			}
		}
	}
	return mustEncode(reply{Channel: m.Channel, ID: m.ID, ClientID: sess.id, Successful: true, Subscription: m.Subscription})
}

func (s *Server) publish(ctx context.Context, c *conn, m *inMessage) []byte {
	sess := s.lookup(c, m.ClientID)
	if sess == nil {
		return mustEncode(errorReply(m, errSessionUnknown))
	}
	if !validChannel(m.Channel, false) {
		return mustEncode(errorReply(m, errChannelInvalid))
	}
	sess.mu.Lock()
	info := sess.info()
	sess.mu.Unlock()
	if isService(m.Channel) {
		h := s.serviceFor(m.Channel)
		if h == nil {
			return mustEncode(reply{Channel: m.Channel, ID: m.ID, Successful: true})
		}
		req := &ServiceRequest{Session: info, Channel: m.Channel, ID: idString(m.ID), Data: m.Data, Ext: m.Ext}
		if err := s.callService(ctx, h, req); err != nil {
			return mustEncode(reply{Channel: m.Channel, ID: m.ID, Successful: false, Error: err.Error()})
		}
		return mustEncode(reply{Channel: m.Channel, ID: m.ID, Successful: true, Data: req.reply})
	}
	if len(m.Data) == 0 {
		return mustEncode(errorReply(m, errDataMissing))
	}
	if !matchAny(s.cfg.ClientPublishChannels, m.Channel) {
		if p := s.cfg.Policy; p == nil || !p.CanPublish(ctx, info, m.Channel, m.Data) {
			return mustEncode(errorReply(m, errPublishDenied))
		}
	}
	if err := s.cfg.Broker.Publish(ctx, m.Channel, encodeDelivery(m.Channel, m.Data, m.Ext)); err != nil {
		s.log.Warn("bayeux publish failed", "channel", m.Channel, "err", err)
		return mustEncode(reply{Channel: m.Channel, ID: m.ID, Successful: false, Error: errServiceFailed.Error()})
	}
	return mustEncode(reply{Channel: m.Channel, ID: m.ID, Successful: true})
}

// callService runs a handler, turning a panic into an error so that one bad handler cannot
// take the server down, and mapping errors to the wire.
func (s *Server) callService(ctx context.Context, h ServiceHandler, req *ServiceRequest) (werr *Error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("bayeux service handler panicked", "channel", req.Channel, "panic", p)
			werr = errServiceFailed
		}
	}()
	err := h(ctx, req)
	if err == nil {
		return nil
	}
	if be := (*Error)(nil); errors.As(err, &be) {
		return be
	}
	s.log.Warn("bayeux service handler failed", "channel", req.Channel, "session", req.Session.ID, "err", err)
	return errServiceFailed
}
