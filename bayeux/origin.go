package bayeux

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/gorilla/websocket"
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

// checkOrigin is the origin policy of every Bayeux request (long-polling, callback-polling,
// websocket upgrade, preflight). It returns the origin to echo in CORS headers ("" when none
// is needed) and whether the request may proceed:
//
//   - With an Origin header: allowed when it is one of Config.PublicOrigins (this server's
//     own pages), matches Config.AllowedOrigins, or — only when PublicOrigins is empty — is
//     a loopback origin equal to the Host (development: http://localhost:8080). The Host
//     header alone never makes an origin "same": with DNS rebinding a foreign page sends
//     Host equal to its own Origin.
//   - Without Origin but with a Referer: the Referer's origin is judged the same way.
//     Callback-polling (JSONP) is a script tag, which sends no Origin, so this is what keeps
//     a foreign page from using a visitor's cookie through JSONP.
//   - With neither: a browser's JSONP request whose page suppressed the Referer
//     (Referrer-Policy: no-referrer) is refused when it carries a BAYEUX_BROWSER cookie;
//     everything else is a non-browser client and allowed (browsers always send Origin on
//     POST and websocket requests).
func (s *Server) checkOrigin(r *http.Request) (string, bool) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		ref := r.Header.Get("Referer")
		if ref == "" {
			if r.Method == http.MethodGet && !websocket.IsWebSocketUpgrade(r) && hasBrowserCookie(r) {
				return "", false
			}
			return "", true
		}
		u, err := url.Parse(ref)
		if err != nil || u.Host == "" {
			return "", false
		}
		// No CORS headers: a script tag does not read them.
		return "", s.originAllowed(&url.URL{Scheme: u.Scheme, Host: u.Host}, r)
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" {
		return "", false // includes the opaque "null" origin
	}
	if !s.originAllowed(u, r) {
		return "", false
	}
	return origin, true
}

// originAllowed judges one browser origin (scheme://host[:port]).
func (s *Server) originAllowed(u *url.URL, r *http.Request) bool {
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	o := strings.ToLower(u.Scheme + "://" + u.Host)
	if slices.Contains(s.public, o) {
		return true
	}
	if len(s.public) == 0 && strings.EqualFold(u.Host, r.Host) && loopbackHost(u.Hostname()) {
		return true
	}
	for _, p := range s.origins {
		if p.matches(u) {
			return true
		}
	}
	return false
}

// loopbackHost reports whether a host name can only mean this machine.
func loopbackHost(h string) bool {
	h = strings.ToLower(h)
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().IsLoopback()
}

func hasBrowserCookie(r *http.Request) bool {
	_, err := r.Cookie(BrowserCookie)
	return err == nil
}

// allowOrigin applies checkOrigin to a polling request; a refusal is counted, logged
// (throttled) and answered 403. CORS response headers are not written here: the router in
// front of this server (web.Server, go-chi/cors) writes them and answers preflights, for
// every browser-facing endpoint alike, deciding with AllowsOrigin.
func (s *Server) allowOrigin(w http.ResponseWriter, r *http.Request) (string, bool) {
	origin, ok := s.checkOrigin(r)
	if !ok {
		s.refuseOrigin(r)
		http.Error(w, "origin not allowed", http.StatusForbidden)
	}
	return origin, ok
}

func (s *Server) refuseOrigin(r *http.Request) {
	s.refuse(refusedOrigin, "bayeux request refused: origin not allowed", "origin", r.Header.Get("Origin"),
		"referer_set", r.Header.Get("Referer") != "", "host", r.Host, "remote", r.RemoteAddr)
}

// parsePublicOrigin validates one Config.PublicOrigins entry and returns it normalised
// (lower case, no default port, no trailing slash).
func parsePublicOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(strings.TrimSpace(o), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("bayeux: public origin %q is not an origin like https://chat.example.com", o)
	}
	host := strings.ToLower(u.Host)
	if (u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
		host = strings.ToLower(u.Hostname())
	}
	return u.Scheme + "://" + host, nil
}

// AllowsOrigin reports whether a browser page of origin (r's Origin header) may use this
// server cross-origin, by the same policy every Bayeux request is checked with
// (public-origins, allowed-origins). The HTTP router uses it to decide CORS headers for all
// browser-facing endpoints, so that REST and CometD agree.
func (s *Server) AllowsOrigin(r *http.Request, origin string) bool {
	if origin == "" || r.Header.Get("Origin") != origin {
		return false
	}
	_, ok := s.checkOrigin(r)
	return ok
}
