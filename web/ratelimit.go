package web

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"
	"github.com/prometheus/client_golang/prometheus"
)

// RateLimits are the per-client-address request limits of the GMS REST API (go-chi/httprate,
// a sliding one-minute window per address; IPv6 addresses count per /64). A zero limit is
// off. The address is the connection's peer (RemoteAddr): behind a reverse proxy every
// client shares the proxy's address, so raise or disable the limits there, or limit at the
// proxy.
type RateLimits struct {
	// ChatCreatesPerMinute bounds chat creations (POST /genesys/2/chat/{service}, with or
	// without the trailing slash the Genesys widget sends) per address.
	ChatCreatesPerMinute int
	// RESTPerMinute bounds all requests under /genesys/2/ (REST chat operations, chat-ntf,
	// chat-push/ack) per address.
	RESTPerMinute int
	// Refused answers a limited request; httprate has set Retry-After (seconds) and the
	// X-RateLimit-* headers. Nil: 429 with a plain-text body. The binary passes the GMS
	// error body writer (statusCode 1, code 500).
	Refused http.HandlerFunc
}

// chatCreatePatterns are the chat creation routes, registered beside the GMS REST subtree
// (see Server.Handle) so that only creations pass the creation limiter.
var chatCreatePatterns = []string{"/genesys/2/chat/{service}", "/genesys/2/chat/{service}/"}

// chatRESTSubtree is the GMS REST prefix whose creation routes get the creation limit.
const chatRESTSubtree = "/genesys/2/chat/"

// rateLimiters are the limiters built from RateLimits; nil fields are off.
type rateLimiters struct {
	create, rest func(http.Handler) http.Handler
}

func newRateLimiters(o RateLimits, reg prometheus.Registerer) rateLimiters {
	limited := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: MetricsNamespace, Subsystem: "http", Name: "rate_limited_total",
		Help: "Requests refused with 429 by a per-address rate limit (chat_create, rest).",
	}, []string{"limit"})
	reg.MustRegister(limited)
	build := func(name string, perMinute int) func(http.Handler) http.Handler {
		count := limited.WithLabelValues(name) // exported at 0 from the start
		if perMinute <= 0 {
			return nil
		}
		refused := o.Refused
		if refused == nil {
			refused = func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
			}
		}
		return httprate.LimitBy(perMinute, time.Minute, clientAddress,
			httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
				count.Inc()
				refused(w, r)
			}))
	}
	return rateLimiters{
		create: build("chat_create", o.ChatCreatesPerMinute),
		rest:   build("rest", o.RESTPerMinute),
	}
}

// clientAddress keys a limit by the client's address as chi's ClientIPFromRemoteAddr
// resolved it (IPv6 reduced to its /64 by httprate.CanonicalizeIP).
func clientAddress(r *http.Request) (string, error) {
	return httprate.CanonicalizeIP(middleware.GetClientIP(r.Context())), nil
}
