package web

import (
	"net/http"
	"strings"

	"github.com/go-chi/cors"
)

// WidgetPrefix is where the customer widget is served (browser-facing, so under CORS).
const WidgetPrefix = "/widget/"

// corsPrefixes are the browser-facing parts of the URL space: the CometD endpoint, the GMS
// Chat API (REST, chat-ntf, chat-push/ack) and the widget. The admin and workflow APIs are
// not: a page on another origin has no business calling them with an operator's
// credentials, so they answer no preflight.
var corsPrefixes = []string{BayeuxPath, "/genesys/2/", WidgetPrefix}

// corsMiddleware is chatgate's one CORS implementation (go-chi/cors), in front of routing
// so that a preflight (OPTIONS) is answered even where the route itself only accepts POST.
// allow decides which origins get CORS headers; it is the same origin policy the Bayeux
// server enforces (allowed-origins), so REST and CometD never disagree. A refused origin
// gets no Access-Control-* headers, so the browser withholds the answer from the page;
// what the endpoint itself does with such a request is its own policy (Bayeux refuses it
// with 403; the GMS REST API, which authenticates every chat operation by its secure key,
// does not look at the origin). Requests without Origin (non-browser clients) pass
// untouched.
func corsMiddleware(allow func(r *http.Request, origin string) bool) func(http.Handler) http.Handler {
	if allow == nil {
		allow = func(*http.Request, string) bool { return false }
	}
	c := cors.New(cors.Options{
		AllowOriginFunc: allow,
		AllowedMethods:  []string{http.MethodGet, http.MethodPost, http.MethodHead},
		// Any request header a permitted page asks for (CometD and the Genesys widget send
		// Content-Type and X-Requested-With; the origins are trusted by configuration).
		AllowedHeaders: []string{"*"},
		// Retry-After tells a widget how long to wait after a 429.
		ExposedHeaders: []string{"Retry-After", "X-Request-Id"},
		// The BAYEUX_BROWSER cookie and widgets that send credentials.
		AllowCredentials: true,
		MaxAge:           600,
	})
	return func(next http.Handler) http.Handler {
		withCORS := c.Handler(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if browserFacing(r.URL.Path) {
				withCORS.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func browserFacing(path string) bool {
	for _, p := range corsPrefixes {
		if path == strings.TrimSuffix(p, "/") || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
			return true
		}
	}
	return false
}
