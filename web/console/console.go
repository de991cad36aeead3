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

// CSP is the policy of the console pages: scripts, styles and images only from this origin,
// requests only to this origin (the APIs, CometD over XHR and websocket: 'self' covers ws:
// and wss: of the same host in CSP level 3). worker-src blob: is the CometD client's timer
// worker (it keeps heartbeats on time in background tabs). No 'unsafe-inline' anywhere.
const CSP = "default-src 'none'; script-src 'self'; worker-src blob:; connect-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Register mounts the console pages and their assets on mux (Go 1.22 patterns).
func Register(mux interface{ Handle(string, http.Handler) }) {
	page := func(b []byte) http.Handler {
		return newAsset(b, "text/html; charset=utf-8", http.Header{
			"Content-Security-Policy": {CSP},
			"Referrer-Policy":         {"no-referrer"},
			"X-Frame-Options":         {"DENY"},
		})
	}
	mux.Handle("GET "+AgentPath+"{$}", page(agentHTML))
	mux.Handle("GET "+AdminPath+"{$}", page(adminHTML))
	mux.Handle("GET "+SupervisorPath+"{$}", page(supervisorHTML))
	mux.Handle("GET "+AssetsPath+"console.css", newAsset(css, "text/css; charset=utf-8", nil))
	mux.Handle("GET "+AssetsPath+"agent.js", newAsset(agentJS, "text/javascript; charset=utf-8", nil))
	mux.Handle("GET "+AssetsPath+"admin.js", newAsset(adminJS, "text/javascript; charset=utf-8", nil))
	mux.Handle("GET "+AssetsPath+"supervisor.js", newAsset(supervisorJS, "text/javascript; charset=utf-8", nil))
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
