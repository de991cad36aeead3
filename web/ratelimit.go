package web

import (
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"
	"github.com/prometheus/client_golang/prometheus"
)

// RateLimits are the per-client-address request limits of the GMS REST API (go-chi/httprate,
// a sliding one-minute window per address; IPv6 addresses count per /64). A zero limit is
// off. The address is ClientAddress: the connection's peer, or behind the reverse proxies
// listed in ServerOptions.TrustedProxies the client they forwarded for. Behind a proxy that
// is not listed every client shares the proxy's address.
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

// clientAddress keys a limit by the client's address (ClientAddress; IPv6 reduced to its
// /64 by httprate.CanonicalizeIP).
func clientAddress(r *http.Request) (string, error) {
	return httprate.CanonicalizeIP(ClientAddress(r)), nil
}

// clientIPMiddleware resolves each request's client address once, for every per-address
// limit (these, Bayeux's handshake limit, the agent login limit) and the access log: the TCP
// peer, or behind trusted proxies the client they forwarded for.
func clientIPMiddleware(trustedProxies []string) func(http.Handler) http.Handler {
	if len(trustedProxies) == 0 {
		return middleware.ClientIPFromRemoteAddr
	}
	return middleware.ClientIPFromXFF(trustedProxies...)
}

// ClientAddress is the request's client IP as the server's middleware resolved it (see
// ServerOptions.TrustedProxies). When the middleware set none — a forwarded-for chain that
// does not parse (chi fails closed) or a request that did not pass through Server — it is the
// TCP peer's host, so a client can never make itself anonymous by sending garbage.
func ClientAddress(r *http.Request) string {
	if ip := middleware.GetClientIP(r.Context()); ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
