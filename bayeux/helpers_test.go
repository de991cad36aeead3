package bayeux

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// msg is a decoded reply for assertions.
type msg struct {
	Channel      string          `json:"channel"`
	ID           string          `json:"id"`
	ClientID     string          `json:"clientId"`
	Successful   *bool           `json:"successful"`
	Error        string          `json:"error"`
	Advice       *adviceOut      `json:"advice"`
	Data         json.RawMessage `json:"data"`
	Ext          json.RawMessage `json:"ext"`
	Subscription json.RawMessage `json:"subscription"`
	Supported    []string        `json:"supportedConnectionTypes"`
}

type adviceOut struct {
	Reconnect       string `json:"reconnect"`
	Interval        *int64 `json:"interval"`
	Timeout         *int64 `json:"timeout"`
	MultipleClients bool   `json:"multiple-clients"`
}

func (m msg) ok() bool { return m.Successful != nil && *m.Successful }

func newTestServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}

// client drives the server over long-polling through ServeHTTP (no network, so it works in
// synctest bubbles). It keeps the BAYEUX_BROWSER cookie like a browser.
type client struct {
	t      *testing.T
	srv    *Server
	cookie *http.Cookie
	id     string
	ctx    context.Context
	origin string
}

func newClient(t *testing.T, srv *Server) *client {
	return &client{t: t, srv: srv, ctx: context.Background()}
}

// do posts body and returns the recorder.
func (c *client) do(body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "http://chat.test/cometd/", strings.NewReader(body)).WithContext(c.ctx)
	req.Header.Set("Content-Type", "application/json")
	if c.origin != "" {
		req.Header.Set("Origin", c.origin)
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	rec := httptest.NewRecorder()
	c.srv.ServeHTTP(rec, req)
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == BrowserCookie {
			c.cookie = ck
		}
	}
	return rec
}

// send posts messages (each a JSON object text) and decodes the reply array.
func (c *client) send(msgs ...string) []msg {
	c.t.Helper()
	rec := c.do("[" + strings.Join(msgs, ",") + "]")
	if rec.Code != http.StatusOK {
		c.t.Fatalf("HTTP %d: %s", rec.Code, rec.Body.String())
	}
	return decodeReplies(c.t, rec.Body.Bytes())
}

func decodeReplies(t *testing.T, b []byte) []msg {
	t.Helper()
	var out []msg
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("reply %q: %v", b, err)
	}
	return out
}

func (c *client) handshake(ext string) msg {
	c.t.Helper()
	m := `{"channel":"/meta/handshake","id":"1","version":"1.0","supportedConnectionTypes":["long-polling"]`
	if ext != "" {
		m += `,"ext":` + ext
	}
	rs := c.send(m + "}")
	if len(rs) != 1 || !rs[0].ok() {
		c.t.Fatalf("handshake: %+v", rs)
	}
	c.id = rs[0].ClientID
	return rs[0]
}

func (c *client) connectMsg(extra string) string {
	m := `{"channel":"/meta/connect","id":"c","clientId":"` + c.id + `","connectionType":"long-polling"`
	if extra != "" {
		m += "," + extra
	}
	return m + "}"
}

// connect sends a connect and returns the reply array (blocks while the server holds it).
func (c *client) connect(extra string) []msg { c.t.Helper(); return c.send(c.connectMsg(extra)) }

func (c *client) subscribe(ch string) msg {
	c.t.Helper()
	rs := c.send(`{"channel":"/meta/subscribe","id":"s","clientId":"` + c.id + `","subscription":"` + ch + `"}`)
	return rs[0]
}

func (c *client) publish(ch, data string) msg {
	c.t.Helper()
	rs := c.send(`{"channel":"` + ch + `","id":"p","clientId":"` + c.id + `","data":` + data + `}`)
	return rs[0]
}

// last returns the last reply (the connect reply of a connect response).
func last(t *testing.T, rs []msg) msg {
	t.Helper()
	if len(rs) == 0 {
		t.Fatal("no replies")
	}
	return rs[len(rs)-1]
}

// async runs fn in a goroutine and returns a channel with its result.
func async[T any](fn func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- fn() }()
	return ch
}
