package bayeux

import (
	"bytes"
	"net/http"
)

// maxCallbackLen bounds a JSONP callback name (CometD's limit).
const maxCallbackLen = 64

// validCallback accepts a JavaScript identifier path: [A-Za-z_$][A-Za-z0-9_$]* segments
// separated by single dots, at most 64 characters. Anything else could inject script.
func validCallback(cb string) bool {
	if cb == "" || len(cb) > maxCallbackLen {
		return false
	}
	start := true
	for i := 0; i < len(cb); i++ {
		c := cb[i]
		switch {
		case c == '.':
			if start {
				return false
			}
			start = true
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '$':
		case c >= '0' && c <= '9':
			if start {
				return false
			}
		default:
			return false
		}
		start = false
	}
	return !start
}

// serveCallbackPoll serves callback-polling (JSONP): GET ?message=<JSON>&jsonp=<callback>,
// answered as /**/callback([...]); in text/javascript.
func (s *Server) serveCallbackPoll(w http.ResponseWriter, r *http.Request) {
	// A script tag sends the visitor's cookies from any page: the origin policy judges its
	// Referer (checkOrigin), or refuses it when it hides the Referer and has a cookie.
	if _, ok := s.allowOrigin(w, r); !ok {
		return
	}
	q := r.URL.Query()
	cb := q.Get("jsonp")
	if cb == "" {
		cb = "jsonpcallback"
	}
	if !validCallback(cb) {
		http.Error(w, "invalid jsonp callback name", http.StatusBadRequest)
		return
	}
	msg := q.Get("message")
	if msg == "" || (msg[0] != '[' && msg[0] != '{') {
		http.Error(w, "missing or malformed message parameter", http.StatusBadRequest)
		return
	}
	if int64(len(msg)) > s.cfg.MaxRequestBytes {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	out, ok := s.poll(w, r, TransportCallbackPolling, []byte(msg), nil)
	if !ok {
		return
	}
	var buf bytes.Buffer
	buf.WriteString("/**/")
	buf.WriteString(cb)
	buf.WriteByte('(')
	encodeArray(&buf, out) // encoding/json escapes U+2028/U+2029, so this is valid script
	buf.WriteString(");")
	h := w.Header()
	h.Set("Content-Type", "text/javascript;charset=UTF-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", "attachment; filename=f.txt")
	h.Set("Cache-Control", "no-store")
	s.writeResponse(w, buf.Bytes(), len(out))
}
