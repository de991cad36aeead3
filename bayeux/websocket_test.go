package bayeux

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatgate/chatgate/internal/testwait"
)

type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	id   string
}

func dialWS(t *testing.T, url string, hdr http.Header) *wsClient {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http"), hdr)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return &wsClient{t: t, conn: conn}
}

func (c *wsClient) write(msgs ...string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte("["+strings.Join(msgs, ",")+"]")); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next frame's messages.
func (c *wsClient) read() []msg {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := c.conn.ReadMessage()
	if err != nil {
		c.t.Fatal(err)
	}
	return decodeReplies(c.t, b)
}

// until reads frames until one message satisfies pred, returning every message read.
func (c *wsClient) until(pred func(msg) bool) []msg {
	c.t.Helper()
	var all []msg
	for {
		for _, m := range c.read() {
			all = append(all, m)
			if pred(m) {
				return all
			}
		}
	}
}

func (c *wsClient) handshake(ext string) {
	c.t.Helper()
	m := `{"channel":"/meta/handshake","id":"1","version":"1.0","supportedConnectionTypes":["websocket"]`
	if ext != "" {
		m += `,"ext":` + ext
	}
	c.write(m + "}")
	r := c.read()[0]
	if !r.ok() {
		c.t.Fatalf("%+v", r)
	}
	c.id = r.ClientID
}

func (c *wsClient) connect(extra string) {
	m := `{"channel":"/meta/connect","id":"c","clientId":"` + c.id + `","connectionType":"websocket"`
	if extra != "" {
		m += "," + extra
	}
	c.write(m + "}")
}

func isConnect(m msg) bool { return m.Channel == "/meta/connect" }

func newHTTPServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	srv := newTestServer(t, cfg)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	return srv, hs
}

func TestWebSocketPushesWithoutAckAndReconnectsOnNewSocket(t *testing.T) {
	srv, hs := newHTTPServer(t, Config{ClientPublishChannels: []string{"/t/**"}})
	c := dialWS(t, hs.URL, nil)
	c.handshake("")
	c.write(`{"channel":"/meta/subscribe","id":"s","clientId":"` + c.id + `","subscription":"/t/*"}`)
	if r := c.read()[0]; !r.ok() {
		t.Fatalf("%+v", r)
	}
	c.connect(`"advice":{"timeout":0}`)
	c.until(isConnect)
	c.connect("") // held
	c.write(`{"channel":"/t/a","id":"p","clientId":"` + c.id + `","data":{"n":1}}`)
	got := c.until(func(m msg) bool { return m.Channel == "/t/a" && m.Data != nil })
	if isConnect(got[len(got)-1]) {
		t.Fatal("push woke the held connect")
	}
	if st := srv.Stats(); st.Connections[TransportWebSocket] != 1 || !srv.Live(c.id) {
		t.Fatalf("stats %+v", st)
	}
	// The socket dies; a new one continues the session with its clientId (reload/reconnect).
	c.conn.Close()
	waitFor(t, func() bool { return !srv.Live(c.id) }) // without ack, a push into a dying socket is lost
	c2 := dialWS(t, hs.URL, nil)
	c2.id = c.id
	srv.Deliver(context.Background(), c.id, "/t/q", "queued")
	c2.connect(`"advice":{"timeout":0}`)
	got = c2.until(isConnect)
	if len(got) != 2 || string(got[0].Data) != `"queued"` || !got[1].ok() {
		t.Fatalf("reconnect: %+v", got)
	}
	// A frame of garbage closes this socket only.
	c2.conn.WriteMessage(websocket.TextMessage, []byte("garbage"))
	c2.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c2.conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseInvalidFramePayloadData) {
		t.Fatalf("garbage frame: %v", err)
	}
	if srv.Stats().Sessions != 1 {
		t.Fatal("session lost")
	}
}

func TestWebSocketAckDeliversThroughConnectOnly(t *testing.T) {
	srv, hs := newHTTPServer(t, Config{})
	c := dialWS(t, hs.URL, nil)
	c.handshake(`{"ack":true}`)
	c.connect(`"advice":{"timeout":0},"ext":{"ack":0}`)
	c.until(isConnect)
	c.connect(`"ext":{"ack":1}`)
	waitFor(t, func() bool { return holding(srv, c.id) }) // deliver into the held connect
	srv.Deliver(context.Background(), c.id, "/e", 1)
	got := c.until(isConnect)
	if len(got) != 2 || string(got[0].Data) != "1" || string(got[1].Ext) != `{"ack":2}` {
		t.Fatalf("%+v", got)
	}
	// Lost reply: a new socket acknowledging batch 1 gets the message again.
	c.conn.Close()
	c2 := dialWS(t, hs.URL, nil)
	c2.id = c.id
	c2.connect(`"advice":{"timeout":0},"ext":{"ack":1}`)
	got = c2.until(isConnect)
	if len(got) != 2 || string(got[0].Data) != "1" || string(got[1].Ext) != `{"ack":3}` {
		t.Fatalf("redelivery %+v", got)
	}
}

func TestWebSocketOriginAndForeignCookie(t *testing.T) {
	_, hs := newHTTPServer(t, Config{AllowedOrigins: []string{"https://ok.test"}})
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	if _, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"https://evil.test"}}); err == nil || resp.StatusCode != 403 {
		t.Fatalf("evil origin: %v %v", err, resp)
	}
	a := dialWS(t, hs.URL, http.Header{"Origin": {"https://ok.test"}})
	a.handshake("")
	// A socket with the cookie of another browser that has sessions cannot continue a's.
	other := dialWS(t, hs.URL, http.Header{"Origin": {"https://ok.test"}, "Cookie": {BrowserCookie + "=someotherbrowser0000000000"}})
	other.handshake("")
	b := dialWS(t, hs.URL, http.Header{"Origin": {"https://ok.test"}, "Cookie": {BrowserCookie + "=someotherbrowser0000000000"}})
	b.id = a.id
	b.connect(`"advice":{"timeout":0}`)
	r := b.until(isConnect)[0]
	if r.ok() || r.Advice.Reconnect != "handshake" {
		t.Fatalf("%+v", r)
	}
}

func TestShutdownClosesWebSocketsAndAnswersHeldConnect(t *testing.T) {
	srv := newTestServer(t, Config{})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	c := dialWS(t, hs.URL, nil)
	c.handshake("")
	c.connect(`"advice":{"timeout":0}`)
	c.until(isConnect)
	c.connect("")
	waitFor(t, func() bool { return holding(srv, c.id) }) // Shutdown must answer a held connect
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	r := c.until(isConnect)[0]
	if r.ok() || r.Advice.Reconnect != "handshake" {
		t.Fatalf("%+v", r)
	}
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("close: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if srv.Stats().Connections[TransportWebSocket] != 0 {
		t.Fatal("websocket still counted")
	}
	var _ json.RawMessage
}

// holding reports whether the server holds a /meta/connect of session id.
func holding(srv *Server, id string) bool {
	sess := srv.session(id)
	if sess == nil {
		return false
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.held != nil
}

// waitFor is testwait.Until with this package's 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testwait.Until(t, 5*time.Second, "condition", cond)
}

func TestWebSocketKeepAliveCookieAndLimits(t *testing.T) {
	_, hs := newHTTPServer(t, Config{MaxRequestBytes: 4096})
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var browser *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == BrowserCookie {
			browser = ck
		}
	}
	if browser == nil || !browser.HttpOnly || !validBrowserID(browser.Value) {
		t.Fatalf("upgrade response cookie %v", resp.Header)
	}
	c := &wsClient{t: t, conn: conn}
	// Faye's keep-alive "[]" gets no answer; the next frame is answered normally.
	c.conn.WriteMessage(websocket.TextMessage, []byte("[]"))
	c.handshake("")
	// A frame over MaxRequestBytes closes the socket with 1009.
	c.conn.WriteMessage(websocket.TextMessage, []byte(`[{"channel":"/x","data":"`+strings.Repeat("x", 5000)+`"}]`))
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("oversize frame: %v", err)
	}
	// Binary frames are refused with 1003.
	c2 := dialWS(t, hs.URL, nil)
	c2.conn.WriteMessage(websocket.BinaryMessage, []byte(`[]`))
	c2.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c2.conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseUnsupportedData) {
		t.Fatalf("binary frame: %v", err)
	}
}

func TestShutdownCancelsStuckServiceHandler(t *testing.T) {
	srv := newTestServer(t, Config{})
	entered := make(chan struct{})
	srv.HandleService("/service/slow", func(ctx context.Context, req *ServiceRequest) error {
		close(entered)
		<-ctx.Done() // a handler that only stops when told to
		return ctx.Err()
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	c := dialWS(t, hs.URL, nil)
	c.handshake("")
	c.write(`{"channel":"/service/slow","clientId":"` + c.id + `","data":1}`)
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err == nil {
		t.Fatal("shutdown past its deadline reported no error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
}

func TestIdleWebSocketIsPinged(t *testing.T) {
	_, hs := newHTTPServer(t, Config{PingPeriod: 40 * time.Millisecond})
	c := dialWS(t, hs.URL, nil)
	pinged := make(chan struct{}, 1)
	c.conn.SetPingHandler(func(string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return nil
	})
	go func() {
		for {
			if _, _, err := c.conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case <-pinged:
	case <-time.After(5 * time.Second):
		t.Fatal("no ping")
	}
}
