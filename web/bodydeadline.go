package web

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// bodyDeadline gives every request body a read deadline of d from the moment the handler
// starts, and counts bodies cut off by it.
//
// Why a connection read deadline and not http.Server.ReadTimeout: ReadTimeout would also
// cover the time a Bayeux /meta/connect is held. A per-request deadline set here ends with
// the body instead: once a handler has read the body to its end, net/http starts its
// background read of the connection and clears the read deadline for it (pinned by
// TestHeldResponseOutlivesBodyDeadline), so a held long-poll, whose small body is read
// first, is not cut. Requests without a body (GET, websocket upgrades, which hijack the
// connection) get no deadline, so a hijacked connection never inherits one. The server
// sets its own deadlines again before the next request on a keep-alive connection. A
// handler that stops reading early leaves the deadline in place, which also bounds the
// discarding of the unread rest that net/http does after the handler.
func bodyDeadline(d time.Duration, timeouts prometheus.Counter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(d)); err != nil {
			// The writer cannot set deadlines (not a net/http connection, e.g. a test
			// recorder): serve without one rather than refuse the request.
			next.ServeHTTP(w, r)
			return
		}
		r.Body = &deadlineBody{ReadCloser: r.Body, timeouts: timeouts}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody counts bodies whose read failed at the deadline.
type deadlineBody struct {
	io.ReadCloser
	timeouts prometheus.Counter
	counted  bool // one count per body; Read is not called concurrently
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && !b.counted && errors.Is(err, os.ErrDeadlineExceeded) {
		b.counted = true
		b.timeouts.Inc()
	}
	return n, err
}
