package widget

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// Paths served by Register.
const (
	ScriptPath = "/widget/chatgate.js"
	// WorkerPath is the Web Push service worker (widget/src/sw.js, served as written: a
	// service worker is its own script, not part of the bundle).
	WorkerPath = "/widget/sw.js"
	DemoPath   = "/"
)

// scriptMaxAge is how long a browser may use the bundle without revalidating. Short because
// sites embed the unversioned URL and should see an upgrade soon; the ETag makes the
// revalidation a cheap 304.
const scriptMaxAge = 300

//go:embed dist/chatgate.js
var bundle []byte

//go:embed src/sw.js
var worker []byte

//go:embed demo/index.html
var demoHTML []byte

// demoCSP allows the page to load only the widget from this origin and to talk to this
// origin (CometD over XHR and websocket, chat-ntf). 'self' covers ws:/wss: of the same host
// in CSP level 3. worker-src blob: is the CometD client's timer worker (it keeps heartbeats
// on time in background tabs, which throttle the page's timers); 'self' is the Web Push
// service worker (/widget/sw.js). The widget's styles are
// constructed stylesheets (adoptedStyleSheets), so no 'unsafe-inline' is needed.
const demoCSP = "default-src 'none'; script-src 'self'; worker-src 'self' blob:; connect-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Options configures Register.
type Options struct {
	// DemoPage serves the demo page at / (config demo-page, default on).
	DemoPage bool
}

// Register mounts the widget script and, if enabled, the demo page on mux (Go 1.22 patterns).
func Register(mux interface{ Handle(string, http.Handler) }, o Options) {
	mux.Handle("GET "+ScriptPath, Script())
	mux.Handle("GET "+WorkerPath, Worker())
	if o.DemoPage {
		mux.Handle("GET /{$}", Demo())
	}
}

// Script serves the embedded bundle.
func Script() http.Handler {
	return newAsset(bundle, "text/javascript; charset=utf-8",
		"public, max-age="+strconv.Itoa(scriptMaxAge), nil)
}

// Worker serves the service worker. no-cache: browsers check a worker for updates on their
// own schedule, and an outdated worker would keep handling pushes; the ETag keeps the check
// cheap.
func Worker() http.Handler {
	return newAsset(worker, "text/javascript; charset=utf-8", "no-cache", nil)
}

// Demo serves the demo page.
func Demo() http.Handler {
	return newAsset(demoHTML, "text/html; charset=utf-8", "no-cache", http.Header{
		"Content-Security-Policy": {demoCSP},
		"Referrer-Policy":         {"no-referrer"},
	})
}

// Version is a short hash of the embedded bundle (its ETag without quotes).
func Version() string { return digest(bundle) }

// asset is a static body with its precomputed gzip form and ETag.
type asset struct {
	body, gz []byte
	etag     string
	header   http.Header
}

func newAsset(body []byte, contentType, cacheControl string, extra http.Header) *asset {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // level is valid: no error
	_, _ = zw.Write(body)                                    // bytes.Buffer never fails
	_ = zw.Close()
	h := http.Header{
		"Content-Type":           {contentType},
		"Cache-Control":          {cacheControl},
		"X-Content-Type-Options": {"nosniff"},
		"Vary":                   {"Accept-Encoding"},
	}
	for k, v := range extra {
		h[k] = v
	}
	a := &asset{body: body, gz: buf.Bytes(), etag: `"` + digest(body) + `"`, header: h}
	return a
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func (a *asset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	h.Set("ETag", a.etag)
	if etagMatch(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = a.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// etagMatch implements the weak comparison of If-None-Match (RFC 9110 §13.1.2).
func etagMatch(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding lists gzip with a non-zero quality.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.TrimSpace(params)
		if v, ok := strings.CutPrefix(q, "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			return err == nil && f > 0
		}
		return true
	}
	return false
}
