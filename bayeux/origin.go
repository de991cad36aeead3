package bayeux

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// originPattern is one entry of Config.AllowedOrigins.
type originPattern struct {
	any    bool   // "*"
	scheme string // "" = any scheme
	host   string // host[:port]; with wildcard the suffix after "*." (without port)
	wild   bool   // "*.example.com": any subdomain, not the apex
}

func parseOriginPattern(p string) (originPattern, error) {
	p = strings.TrimSpace(strings.ToLower(p))
	orig := p
	if p == "*" {
		return originPattern{any: true}, nil
	}
	var o originPattern
	if i := strings.Index(p, "://"); i >= 0 {
		o.scheme, p = p[:i], p[i+3:]
		if o.scheme != "http" && o.scheme != "https" {
			return o, fmt.Errorf("bayeux: allowed origin %q: scheme must be http or https", orig)
		}
	}
	p = strings.TrimSuffix(p, "/")
	if strings.HasPrefix(p, "*.") {
		o.wild, p = true, p[2:]
	}
	if p == "" || strings.ContainsAny(p, "/*?#@ ") {
		return o, fmt.Errorf("bayeux: allowed origin %q is not an origin or *.domain pattern", orig)
	}
	o.host = p
	return o, nil
}

func (o originPattern) matches(u *url.URL) bool {
	if o.any {
		return true
	}
	if o.scheme != "" && o.scheme != u.Scheme {
		return false
	}
	host := strings.ToLower(u.Host)
	if o.wild {
		h := strings.ToLower(u.Hostname())
		if strings.Contains(o.host, ":") {
			h = host
		}
		return strings.HasSuffix(h, "."+o.host)
	}
	if !strings.Contains(o.host, ":") && u.Port() != "" {
		// "https://shop.example.com" also allows the scheme's default port written out.
		if (u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
			host = strings.ToLower(u.Hostname())
		}
	}
	return host == o.host
}

// checkOrigin decides a request's Origin: no Origin (non-browser client) is allowed, same
// origin is allowed, otherwise it must match Config.AllowedOrigins. It returns the origin to
// echo in CORS headers ("" when none is needed).
func (s *Server) checkOrigin(r *http.Request) (string, bool) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return "", true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false // includes the opaque "null" origin
	}
	if strings.EqualFold(u.Host, r.Host) {
		return origin, true
	}
	for _, p := range s.origins {
		if p.matches(u) {
			return origin, true
		}
	}
	return "", false
}

// cors checks the origin and writes the CORS response headers; false means refused (403
// already written).
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin, ok := s.checkOrigin(r)
	if !ok {
		s.log.Debug("bayeux origin refused", "origin", r.Header.Get("Origin"), "host", r.Host)
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return false
	}
	if origin != "" {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	}
	return true
}

// servePreflight answers a CORS preflight (OPTIONS) for long-polling with credentials.
func (s *Server) servePreflight(w http.ResponseWriter, r *http.Request) {
	if !s.cors(w, r) {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" && headerTokens(req) {
		h.Set("Access-Control-Allow-Headers", req)
	} else {
		h.Set("Access-Control-Allow-Headers", "Content-Type")
	}
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// headerTokens accepts a comma-separated list of header names (nothing else is echoed).
func headerTokens(v string) bool {
	if len(v) > 256 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == ',' || c == ' ') {
			return false
		}
	}
	return true
}
