package console

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

// Paths served by Register.
const (
	AgentPath      = "/agent/"
	AdminPath      = "/admin/"
	SupervisorPath = "/supervisor/"
	AssetsPath     = "/console/"
)

//go:embed static/agent.html
var agentHTML []byte

//go:embed static/admin.html
var adminHTML []byte

//go:embed static/supervisor.html
var supervisorHTML []byte

//go:embed static/console.css
var css []byte

//go:embed dist/agent.js
var agentJS []byte

//go:embed dist/admin.js
var adminJS []byte

//go:embed dist/supervisor.js
var supervisorJS []byte

//go:embed dist/login.js
var loginJS []byte

// CSP is the policy of the console pages: scripts, styles and images only from this origin,
// requests only to this origin (the APIs, CometD over XHR and websocket: 'self' covers ws:
// and wss: of the same host in CSP level 3). worker-src blob: is the CometD client's timer
// worker (it keeps heartbeats on time in background tabs). No 'unsafe-inline' anywhere.
const CSP = "default-src 'none'; script-src 'self'; worker-src blob:; connect-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Admission decides whether a request may see a console page (its data views) rather than
// only its login form; cmd/chatgate wires it to the session cookies (web/agentapi for the
// agent and supervisor consoles, web/adminauth for the admin console). A nil func admits
// nobody.
type Admission struct {
	// Staff reports whether r's staff session may use console ("agent" or "supervisor").
	Staff func(r *http.Request, console string) bool
	// Admin reports whether r carries an admin console session.
	Admin func(r *http.Request) bool
}

// Register mounts the console pages and their assets on mux (Go 1.22 patterns). Each page
// is served whole only to a session of its role; any other request gets the page's login
// view: the same document without its data views and with the login script (login.js)
// instead of the console's bundle, so neither the markup nor the code of a console reaches
// a browser that has not logged in to it.
func Register(mux interface{ Handle(string, http.Handler) }, adm Admission) {
	header := http.Header{
		"Content-Security-Policy": {CSP},
		"Referrer-Policy":         {"no-referrer"},
		"X-Frame-Options":         {"DENY"},
		"Vary":                    {"Cookie"},
	}
	page := func(console string, b []byte, admitted func(*http.Request) bool) http.Handler {
		full := newAsset(b, "text/html; charset=utf-8", header)
		login := newAsset(mustLoginView(b, console), "text/html; charset=utf-8", header)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if admitted != nil && admitted(r) {
				full.ServeHTTP(w, r)
				return
			}
			login.ServeHTTP(w, r)
		})
	}
	staff := func(console string) func(*http.Request) bool {
		if adm.Staff == nil {
			return nil
		}
		return func(r *http.Request) bool { return adm.Staff(r, console) }
	}
	mux.Handle("GET "+AgentPath+"{$}", page("agent", agentHTML, staff("agent")))
	mux.Handle("GET "+AdminPath+"{$}", page("admin", adminHTML, adm.Admin))
	mux.Handle("GET "+SupervisorPath+"{$}", page("supervisor", supervisorHTML, staff("supervisor")))
	mux.Handle("GET "+AssetsPath+"console.css", newAsset(css, "text/css; charset=utf-8", nil))
	mux.Handle("GET "+AssetsPath+"agent.js", newAsset(agentJS, "text/javascript; charset=utf-8", nil))
	mux.Handle("GET "+AssetsPath+"admin.js", newAsset(adminJS, "text/javascript; charset=utf-8", nil))
	mux.Handle("GET "+AssetsPath+"supervisor.js", newAsset(supervisorJS, "text/javascript; charset=utf-8", nil))
	mux.Handle("GET "+AssetsPath+"login.js", newAsset(loginJS, "text/javascript; charset=utf-8", nil))
}

// asset is a static body with its ETag, served by http.ServeContent (conditional requests,
// HEAD, ranges). Pages and assets are revalidated on every use (no-cache): the URLs are not
// versioned, and a 304 is cheap. Not compressed: the largest bundle (the agent console with
// the CometD client) is tens of kilobytes and consoles run on staff networks.
type asset struct {
	body   []byte
	header http.Header
}

func newAsset(body []byte, contentType string, extra http.Header) *asset {
	sum := sha256.Sum256(body)
	h := http.Header{
		"Content-Type":           {contentType},
		"Cache-Control":          {"no-cache"},
		"X-Content-Type-Options": {"nosniff"},
		"Etag":                   {`"` + hex.EncodeToString(sum[:8]) + `"`},
	}
	for k, v := range extra {
		h[k] = v
	}
	return &asset{body: body, header: h}
}

func (a *asset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
