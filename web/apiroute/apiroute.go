package apiroute

import (
	"context"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/chatgate/chatgate/web/apijson"
)

// Router is a chi router with the 404/405 answers of the JSON APIs.
type Router struct {
	*chi.Mux
}

// probed are the methods a 405's Allow may list. HEAD is left out: it is served wherever
// GET is, and listing it would change what the APIs answered before (Allow: GET).
var probed = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// New returns an empty router. Register routes with its chi methods (Get, Post, ...,
// Method); middleware with Use before the first route.
func New() *Router {
	mux := chi.NewRouter()
	mux.Use(keepPattern, middleware.GetHead)
	rt := &Router{Mux: mux}
	mux.NotFound(func(w http.ResponseWriter, r *http.Request) {
		apijson.Error(w, http.StatusNotFound, apijson.CodeNotFound, "no such endpoint")
	})
	mux.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		allow := rt.Allowed(routePath(r))
		if len(allow) == 0 { // a method chi does not know, on a path that does not exist
			apijson.Error(w, http.StatusNotFound, apijson.CodeNotFound, "no such endpoint")
			return
		}
		list := strings.Join(allow, ", ")
		w.Header().Set("Allow", list)
		apijson.Error(w, http.StatusMethodNotAllowed, apijson.CodeMethodNotAllowed, r.Method+" is not allowed here; use "+list)
	})
	return rt
}

// Allowed lists the methods path is routed for (a custom 405 handler gets no list from
// chi, so the router is asked once per method).
func (rt *Router) Allowed(path string) []string {
	var out []string
	for _, m := range probed {
		if rt.Match(chi.NewRouteContext(), m, path) {
			out = append(out, m)
		}
	}
	return out
}

// ServeHTTP routes r with a fresh routing context (see the package comment). Like
// http.ServeMux it leaves the matched pattern (relative to the router) in r.Pattern, so a
// middleware around the router (web/audit) can name the route.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var pattern string
	inner := r.WithContext(context.WithValue(r.Context(), patternKey{}, &pattern))
	if chi.RouteContext(r.Context()) != nil {
		inner = inner.WithContext(context.WithValue(inner.Context(), chi.RouteCtxKey, (*chi.Context)(nil)))
	}
	rt.Mux.ServeHTTP(w, inner)
	if pattern != "" {
		r.Pattern = pattern
	}
}

type patternKey struct{}

// keepPattern hands the pattern chi matched to ServeHTTP (chi routes a request of its own
// and forgets its routing context when it returns).
func keepPattern(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if p, ok := r.Context().Value(patternKey{}).(*string); ok {
			if rc := chi.RouteContext(r.Context()); rc != nil {
				*p = rc.RoutePattern()
			}
		}
	})
}

// routePath is the path chi routes: the escaped form when the URL has one.
func routePath(r *http.Request) string {
	if r.URL.RawPath != "" {
		return r.URL.RawPath
	}
	if r.URL.Path == "" {
		return "/"
	}
	return r.URL.Path
}
