package bayeux

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
)

// httpConn describes an HTTP request as a message source.
func (s *Server) httpConn(r *http.Request, transport string) *conn {
	c := &conn{transport: transport, remote: r.RemoteAddr, header: policyHeader(r.Header), host: r.Host}
	if s.cfg.ClientAddress != nil {
		if a := s.cfg.ClientAddress(r); a != "" {
			c.remote = a
		}
	}
	if ck, err := r.Cookie(BrowserCookie); err == nil && validBrowserID(ck.Value) {
		c.browser, c.hadCookie = ck.Value, true
	}
	return c
}

// policyHeaders are the request headers HandshakeInfo.Header carries: what a policy needs to
// authenticate a browser by its cookie and see where the page came from. Only these are
// kept, because a websocket connection keeps them for its life.
var policyHeaders = []string{"Cookie", "Origin", "Sec-Fetch-Site"}

func policyHeader(h http.Header) http.Header {
	out := make(http.Header, len(policyHeaders))
	for _, k := range policyHeaders {
		if v := h.Values(k); len(v) > 0 {
			out[k] = v
		}
	}
	return out
}

// browserCookie is the BAYEUX_BROWSER cookie. HttpOnly always. SameSite=None (needed when the
// widget's page is on another site) only with Secure, because browsers reject SameSite=None
// without Secure; Secure only over TLS (directly or behind a proxy saying
// X-Forwarded-Proto: https), because a Secure cookie set over plain http is dropped by
// non-browser clients and by browsers outside localhost. Over plain http the cookie has no
// SameSite attribute (browsers treat it as Lax: fine for same-site pages).
func (s *Server) browserCookie(r *http.Request, value string) *http.Cookie {
	ck := &http.Cookie{Name: BrowserCookie, Value: value, Path: "/", HttpOnly: true}
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		ck.Secure, ck.SameSite = true, http.SameSiteNoneMode
	}
	return ck
}

// readBatch reads and decodes a request body within the limits; on failure it has written
// the HTTP error (413 too large, 400 malformed).
func (s *Server) readBatch(w http.ResponseWriter, body []byte, err error) ([]inMessage, bool) {
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "cannot read request", http.StatusBadRequest)
		}
		return nil, false
	}
	msgs, err := decodeBatch(body, s.lim)
	if err == nil && len(msgs) == 0 {
		err = errBadRequestMessage
	}
	if err != nil {
		s.log.Debug("bayeux malformed request", "err", err)
		http.Error(w, "malformed Bayeux message", http.StatusBadRequest)
		return nil, false
	}
	return msgs, true
}

// serveLongPoll serves a long-polling POST: JSON array or object, or Faye's message= form.
func (s *Server) serveLongPoll(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.allowOrigin(w, r); !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBytes))
	out, ok := s.poll(w, r, TransportLongPolling, body, err)
	if !ok {
		return
	}
	var buf bytes.Buffer
	encodeArray(&buf, out)
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	s.writeResponse(w, buf.Bytes(), len(out))
}

// poll runs one polling request: decode the body (readErr is the error of reading it), process
// the batch, hold its /meta/connect. Unless it has answered the request itself (bad input, or
// a newer connect superseded this one), it sets the BAYEUX_BROWSER cookie if the session needs
// one and returns the replies for the caller to encode in its transport's format.
func (s *Server) poll(w http.ResponseWriter, r *http.Request, transport string, body []byte, readErr error) ([][]byte, bool) {
	msgs, ok := s.readBatch(w, body, readErr)
	if !ok {
		return nil, false
	}
	c := s.httpConn(r, transport)
	out, status := s.runPolling(r, c, msgs)
	if status != http.StatusOK {
		if status != 0 {
			http.Error(w, "connect superseded by a newer one", status)
		}
		return nil, false
	}
	if c.setCookie {
		http.SetCookie(w, s.browserCookie(r, c.browser))
	}
	return out, true
}

// runPolling processes a batch and then, if it has one, the held /meta/connect, whose reply
// (after the queued events) comes last.
func (s *Server) runPolling(r *http.Request, c *conn, msgs []inMessage) ([][]byte, int) {
	out, connect := s.process(r.Context(), c, msgs)
	if connect == nil && c.transport == TransportCallbackPolling {
		s.resumeCallbackConnect(c, msgs)
	}
	if connect != nil {
		cr, status := s.connectPoll(r.Context(), c, connect)
		if status != http.StatusOK {
			return nil, status
		}
		out = append(out, cr...)
	}
	return out, http.StatusOK
}

// writeResponse writes a polling response under a write deadline (the http.Server has none:
// it would cut held connects).
func (s *Server) writeResponse(w http.ResponseWriter, body []byte, n int) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)) // unsupported writers: no deadline
	if _, err := w.Write(body); err != nil {
		s.log.Debug("bayeux response write failed", "err", err)
		return
	}
	s.stats.out.Add(uint64(n))
}

// resumeCallbackConnect answers the client's held callback-polling connect when another
// request of that client arrives: a browser may run injected scripts in order, so a reply
// could otherwise wait behind the held connect's script (what CometD does for JSONP).
func (s *Server) resumeCallbackConnect(c *conn, msgs []inMessage) {
	for i := range msgs {
		if msgs[i].ClientID == "" {
			continue
		}
		sess := s.lookup(c, msgs[i].ClientID)
		if sess == nil {
			return
		}
		sess.mu.Lock()
		if h := sess.held; h != nil && h.transport == TransportCallbackPolling {
			sess.wakeLocked()
		}
		sess.mu.Unlock()
		return
	}
}
