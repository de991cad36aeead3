package bayeux

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestHandshakeReply(t *testing.T) {
	srv := newTestServer(t, Config{})
	c := newClient(t, srv)
	hs := c.handshake("")
	if len(c.id) < 26 || hs.Advice == nil || hs.Advice.Reconnect != "retry" || *hs.Advice.Timeout != 30000 || *hs.Advice.Interval != 0 {
		t.Fatalf("handshake reply %+v advice %+v", hs, hs.Advice)
	}
	if hs.ID != "1" || len(hs.Supported) == 0 || hs.Supported[0] != "websocket" {
		t.Fatalf("id echo / supported types: %+v", hs)
	}
	if c.cookie == nil || !c.cookie.HttpOnly || c.cookie.Secure || c.cookie.Path != "/" {
		t.Fatalf("cookie %+v", c.cookie)
	}
	if srv.Stats().Sessions != 1 {
		t.Fatalf("sessions %d", srv.Stats().Sessions)
	}
	// No transport in common: refused with reconnect none.
	rs := c.send(`{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["carrier-pigeon"]}`)
	if rs[0].ok() || !strings.HasPrefix(rs[0].Error, "301:") || rs[0].Advice.Reconnect != "none" {
		t.Fatalf("%+v", rs[0])
	}
}

func TestSecureCookieBehindTLSProxy(t *testing.T) {
	srv := newTestServer(t, Config{})
	req := httptest.NewRequest(http.MethodPost, "/cometd", strings.NewReader(`[{"channel":"/meta/handshake","version":"1.0"}]`))
	req.Header.Set("X-Forwarded-Proto", "https")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	ck := rec.Result().Cookies()[0]
	if !ck.Secure || ck.SameSite != http.SameSiteNoneMode || !ck.HttpOnly {
		t.Fatalf("cookie %+v", ck)
	}
}

func TestUnknownClientIDGets402WithHandshakeAdvice(t *testing.T) {
	srv := newTestServer(t, Config{})
	c := newClient(t, srv)
	c.handshake("")
	c.id = "nosuchsession0000000000000000000"
	for _, m := range []string{
		c.connectMsg(""),
		`{"channel":"/meta/subscribe","clientId":"` + c.id + `","subscription":"/a"}`,
		`{"channel":"/a","clientId":"` + c.id + `","data":1}`,
		`{"channel":"/meta/disconnect","clientId":"` + c.id + `"}`,
	} {
		r := c.send(m)[0]
		if r.ok() || r.Error != "402::session_unknown" || r.Advice == nil || r.Advice.Reconnect != "handshake" || r.Advice.Interval == nil || *r.Advice.Interval != 0 {
			t.Fatalf("%s → %+v advice %+v", m, r, r.Advice)
		}
	}
}

func TestForeignBrowserCookieIsRefused(t *testing.T) {
	for _, trust := range []bool{false, true} {
		srv := newTestServer(t, Config{TrustClientSession: trust})
		a := newClient(t, srv)
		a.handshake("")
		b := newClient(t, srv)
		b.handshake("")
		// b presents a's clientId with its own cookie: refused unless trusted.
		b.id = a.id
		r := last(t, b.connect(`"advice":{"timeout":0}`))
		if trust != r.ok() {
			t.Fatalf("trust=%v: %+v", trust, r)
		}
		if !trust && r.Advice.Reconnect != "handshake" {
			t.Fatalf("advice %+v", r.Advice)
		}
		// Without any cookie the clientId alone is accepted (the cookie-less widget rule).
		b.cookie = nil
		if r := last(t, b.connect(`"advice":{"timeout":0}`)); !r.ok() {
			t.Fatalf("trust=%v, no cookie: %+v", trust, r)
		}
		if !last(t, a.connect(`"advice":{"timeout":0}`)).ok() {
			t.Fatal("owner refused")
		}
	}
}

func TestFirstConnectReturnsAtOnceLaterOnesAreHeldUntilTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newTestServer(t, Config{Timeout: 20 * time.Second})
		c := newClient(t, srv)
		c.handshake("")
		start := time.Now()
		if r := last(t, c.connect("")); !r.ok() || time.Since(start) != 0 {
			t.Fatalf("first connect %+v after %v", r, time.Since(start))
		}
		got := async(func() []byte { return c.do(c.connectMsg("")).Body.Bytes() })
		synctest.Wait()
		if !srv.Live(c.id) || srv.Stats().Connections[TransportLongPolling] != 1 {
			t.Fatal("connect not held")
		}
		rs := decodeReplies(t, <-got)
		if time.Since(start) != 20*time.Second || !last(t, rs).ok() || *last(t, rs).Advice.Timeout != 20000 {
			t.Fatalf("held %v: %+v", time.Since(start), rs)
		}
		// A client advice timeout of 0 is honoured.
		start = time.Now()
		c.connect(`"advice":{"timeout":0}`)
		if time.Since(start) != 0 {
			t.Fatal("advice timeout 0 held")
		}
	})
}

func TestPublishWakesHeldConnectEventsFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newTestServer(t, Config{ClientPublishChannels: []string{"/chat/**"}})
		sub := newClient(t, srv)
		sub.handshake("")
		if r := sub.subscribe("/chat/*"); !r.ok() || string(r.Subscription) != `"/chat/*"` {
			t.Fatalf("subscribe %+v", r)
		}
		sub.connect("")
		held := async(func() []byte { return sub.do(sub.connectMsg("")).Body.Bytes() })
		synctest.Wait()
		pub := newClient(t, srv)
		pub.handshake("")
		if r := pub.publish("/chat/room", `{"text":"hi"}`); !r.ok() || r.ID != "p" {
			t.Fatalf("publish reply %+v", r)
		}
		if r := pub.publish("/chat/room/deeper", `1`); !r.ok() {
			t.Fatalf("publish reply %+v", r)
		}
		rs := decodeReplies(t, <-held)
		if len(rs) != 2 || rs[0].Channel != "/chat/room" || string(rs[0].Data) != `{"text":"hi"}` || rs[0].ClientID != "" || rs[0].ID != "" {
			t.Fatalf("events then connect reply: %+v", rs)
		}
		if rs[1].Channel != "/meta/connect" || !rs[1].ok() {
			t.Fatalf("%+v", rs[1])
		}
	})
}

func TestNewConnectSupersedesHeldOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newTestServer(t, Config{})
		c := newClient(t, srv)
		c.handshake("")
		c.connect("")
		old := async(func() int { return c.do(c.connectMsg("")).Code })
		synctest.Wait()
		newer := async(func() []byte { return c.do(c.connectMsg("")).Body.Bytes() })
		if code := <-old; code != http.StatusInternalServerError {
			t.Fatalf("older held connect: HTTP %d", code)
		}
		synctest.Wait()
		if err := srv.Deliver(context.Background(), c.id, "/x", 1); err != nil {
			t.Fatal(err)
		}
		if rs := decodeReplies(t, <-newer); len(rs) != 2 {
			t.Fatalf("newer: %+v", rs)
		}
	})
}

func TestMultipleClientsInOneBrowser(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newTestServer(t, Config{})
		a := newClient(t, srv)
		a.handshake("")
		b := newClient(t, srv)
		b.cookie = a.cookie // a second tab of the same browser
		b.handshake("")
		a.connect("")
		b.connect("")
		held := async(func() []byte { return a.do(a.connectMsg("")).Body.Bytes() })
		synctest.Wait()
		start := time.Now()
		r := last(t, b.connect(""))
		if time.Since(start) != 0 || !r.ok() || !r.Advice.MultipleClients || *r.Advice.Interval != 2000 || r.Advice.Reconnect != "retry" {
			t.Fatalf("second tab: %+v advice %+v", r, r.Advice)
		}
		ids, ok := srv.BrowserSessions(httptest.NewRequest("GET", "/", nil))
		if ok || ids != nil {
			t.Fatal("no cookie must give ok=false")
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(a.cookie)
		if ids, ok := srv.BrowserSessions(req); !ok || len(ids) != 2 {
			t.Fatalf("browser sessions %v %v", ids, ok)
		}
		srv.Deliver(context.Background(), a.id, "/x", 1)
		<-held
	})
}

func TestSessionExpiresAfterMaxIntervalWithoutConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newTestServer(t, Config{MaxInterval: 10 * time.Second, Timeout: 30 * time.Second})
		var mu sync.Mutex
		var reasons []RemoveReason
		srv.OnSessionRemoved(func(_ SessionInfo, r RemoveReason, _ json.RawMessage) {
			mu.Lock()
			reasons = append(reasons, r)
			mu.Unlock()
		})
		c := newClient(t, srv)
		c.handshake("")
		c.connect("")
		// A held connect keeps the session alive far beyond MaxInterval.
		held := async(func() []byte { return c.do(c.connectMsg("")).Body.Bytes() })
		<-held
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if srv.Stats().Sessions != 1 {
			t.Fatal("expired too early")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if srv.Stats().Sessions != 0 || len(reasons) != 1 || reasons[0] != ReasonExpired {
			t.Fatalf("sessions %d reasons %v", srv.Stats().Sessions, reasons)
		}
		if r := last(t, c.connect("")); r.ok() || r.Advice.Reconnect != "handshake" {
			t.Fatalf("%+v", r)
		}
		if err := srv.Deliver(context.Background(), c.id, "/x", 1); !errors.Is(err, ErrSessionUnknown) {
			t.Fatalf("deliver to expired: %v", err)
		}
	})
}

func TestClientGoneWhileHeldStartsExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newTestServer(t, Config{MaxInterval: 5 * time.Second})
		c := newClient(t, srv)
		c.handshake("")
		c.connect("")
		ctx, cancel := context.WithCancel(context.Background())
		c.ctx = ctx
		done := async(func() int { return c.do(c.connectMsg("")).Body.Len() })
		synctest.Wait()
		cancel()
		if n := <-done; n != 0 {
			t.Fatalf("wrote %d bytes to a gone client", n)
		}
		if srv.Live(c.id) {
			t.Fatal("still live")
		}
		time.Sleep(6 * time.Second)
		synctest.Wait()
		if srv.Stats().Sessions != 0 {
			t.Fatal("not expired")
		}
	})
}

func TestDisconnectAnswersHeldConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newTestServer(t, Config{})
		var gotExt json.RawMessage
		var reason RemoveReason
		srv.OnSessionRemoved(func(_ SessionInfo, r RemoveReason, ext json.RawMessage) { reason, gotExt = r, ext })
		c := newClient(t, srv)
		c.handshake("")
		c.connect("")
		held := async(func() []byte { return c.do(c.connectMsg("")).Body.Bytes() })
		synctest.Wait()
		r := c.send(`{"channel":"/meta/disconnect","id":"d","clientId":"` + c.id + `","ext":{"transcriptPosition":3}}`)[0]
		if !r.ok() || r.ID != "d" {
			t.Fatalf("%+v", r)
		}
		h := last(t, decodeReplies(t, <-held))
		if !h.ok() || h.Advice.Reconnect != "none" {
			t.Fatalf("held connect after disconnect: %+v", h)
		}
		if reason != ReasonDisconnect || string(gotExt) != `{"transcriptPosition":3}` {
			t.Fatalf("hook %v %s", reason, gotExt)
		}
		if r := last(t, c.connect("")); r.ok() {
			t.Fatal("connect after disconnect accepted")
		}
	})
}

func TestShutdownAnswersHeldPolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, err := NewServer(Config{})
		if err != nil {
			t.Fatal(err)
		}
		var reasons []RemoveReason
		srv.OnSessionRemoved(func(_ SessionInfo, r RemoveReason, _ json.RawMessage) { reasons = append(reasons, r) })
		c := newClient(t, srv)
		c.handshake("")
		c.connect("")
		held := async(func() []byte { return c.do(c.connectMsg("")).Body.Bytes() })
		synctest.Wait()
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		h := last(t, decodeReplies(t, <-held))
		if h.ok() || h.Error != "402::session_unknown" || h.Advice.Reconnect != "handshake" {
			t.Fatalf("held connect at shutdown: %+v", h)
		}
		if len(reasons) != 1 || reasons[0] != ReasonShutdown || srv.Stats().Sessions != 0 {
			t.Fatalf("reasons %v", reasons)
		}
		if code := c.do(c.connectMsg("")).Code; code != http.StatusServiceUnavailable {
			t.Fatalf("after shutdown: HTTP %d", code)
		}
	})
}

func TestAckRedeliversUnacknowledgedBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newTestServer(t, Config{})
		c := newClient(t, srv)
		hs := c.handshake(`{"ack":true}`)
		if string(hs.Ext) != `{"ack":true}` {
			t.Fatalf("handshake ext %s", hs.Ext)
		}
		batchOf := func(m msg) int64 {
			var e struct{ Ack int64 }
			json.Unmarshal(m.Ext, &e)
			return e.Ack
		}
		r := last(t, c.connect(`"ext":{"ack":0}`))
		if batchOf(r) != 1 {
			t.Fatalf("first batch %s", r.Ext)
		}
		srv.Deliver(context.Background(), c.id, "/e", 1)
		srv.Deliver(context.Background(), c.id, "/e", 2)
		rs := c.connect(`"ext":{"ack":1}`)
		if len(rs) != 3 || batchOf(rs[2]) != 2 {
			t.Fatalf("batch 2: %+v", rs)
		}
		// The reply of batch 2 was lost: the client acknowledges 1 again → everything resent,
		// before newer messages, at once (no hold), under batch 3.
		srv.Deliver(context.Background(), c.id, "/e", 3)
		rs = c.connect(`"ext":{"ack":1}`)
		var data []string
		for _, m := range rs[:len(rs)-1] {
			data = append(data, string(m.Data))
		}
		if strings.Join(data, ",") != "1,2,3" || batchOf(rs[3]) != 3 {
			t.Fatalf("redelivery: %v %s", data, rs[len(rs)-1].Ext)
		}
		// Acknowledged: the next connect is held and empty.
		start := time.Now()
		rs = c.connect(`"ext":{"ack":3}`)
		if len(rs) != 1 || time.Since(start) != 30*time.Second {
			t.Fatalf("after ack: %+v after %v", rs, time.Since(start))
		}
	})
}

func TestQueueOverflowDropsOldest(t *testing.T) {
	srv := newTestServer(t, Config{MaxQueue: 3})
	c := newClient(t, srv)
	c.handshake("")
	for i := 1; i <= 5; i++ {
		if err := srv.Deliver(context.Background(), c.id, "/e", i); err != nil {
			t.Fatal(err)
		}
	}
	rs := c.connect("")
	if len(rs) != 4 || string(rs[0].Data) != "3" || string(rs[2].Data) != "5" {
		t.Fatalf("%+v", rs)
	}
	if st := srv.Stats(); st.QueueDrops != 2 || st.MessagesOut != 5 {
		t.Fatalf("stats %+v", st)
	}
}

func TestChannelsRules(t *testing.T) {
	srv := newTestServer(t, Config{ClientPublishChannels: []string{"/open/**"}})
	c := newClient(t, srv)
	c.handshake("")
	cases := []struct {
		m       string
		ok      bool
		errCode string
	}{
		{`{"channel":"/meta/subscribe","clientId":"ID","subscription":"/meta/**"}`, false, "403:"},
		{`{"channel":"/meta/subscribe","clientId":"ID","subscription":"/meta/connect"}`, false, "403:"},
		{`{"channel":"/meta/subscribe","clientId":"ID","subscription":"/service/echo"}`, true, ""},
		{`{"channel":"/meta/subscribe","clientId":"ID","subscription":["/a","/b/**"]}`, true, ""},
		{`{"channel":"/meta/subscribe","clientId":"ID","subscription":"/a/**/b"}`, false, "405:"},
		{`{"channel":"/meta/subscribe","clientId":"ID","subscription":"no-slash"}`, false, "405:"},
		{`{"channel":"/meta/subscribe","clientId":"ID"}`, false, "403:"},
		{`{"channel":"/meta/unsubscribe","clientId":"ID","subscription":"/a"}`, true, ""},
		{`{"channel":"/open/x","clientId":"ID","data":{}}`, true, ""},
		{`{"channel":"/closed/x","clientId":"ID","data":{}}`, false, "403:"},
		{`{"channel":"/open/*","clientId":"ID","data":{}}`, false, "405:"},
		{`{"channel":"/open/x","clientId":"ID"}`, false, "400:"},
		{`{"channel":"/meta/whatever","clientId":"ID"}`, false, "404:"},
		{`{"clientId":"ID"}`, false, "400:"},
		{`{"channel":"/service/nobody","clientId":"ID","data":1}`, true, ""},
	}
	for _, tc := range cases {
		r := c.send(strings.ReplaceAll(tc.m, "ID", c.id))[0]
		if r.ok() != tc.ok || !strings.HasPrefix(r.Error, tc.errCode) {
			t.Errorf("%s → %+v", tc.m, r)
		}
	}
}

func TestServiceHandlers(t *testing.T) {
	srv := newTestServer(t, Config{TestEcho: true})
	var got *ServiceRequest
	srv.HandleService("/service/chat/*", func(ctx context.Context, req *ServiceRequest) error {
		got = req
		switch string(req.Data) {
		case `"fail"`:
			return &Error{Code: 400, Args: []string{"x"}, Message: "bad"}
		case `"oops"`:
			return errors.New("internal detail")
		case `"panic"`:
			panic("boom")
		}
		return srv.Deliver(ctx, req.Session.ID, req.Channel, map[string]int{"answer": 42})
	})
	c := newClient(t, srv)
	c.handshake(`{"auth":"x"}`)
	if r := c.publish("/service/echo", `{"ping":1}`); !r.ok() || string(r.Data) != `{"ping":1}` || r.ID != "p" {
		t.Fatalf("echo %+v", r)
	}
	if r := c.publish("/service/chat/sales", `"hello"`); !r.ok() {
		t.Fatalf("%+v", r)
	}
	if got.Session.ID != c.id || got.Session.Browser != c.cookie.Value || string(got.Session.HandshakeExt) != `{"auth":"x"}` || got.ID != "p" {
		t.Fatalf("request %+v", got)
	}
	for data, want := range map[string]string{`"fail"`: "400:x:bad", `"oops"`: "500::service_failed", `"panic"`: "500::service_failed"} {
		if r := c.publish("/service/chat/sales", data); r.ok() || r.Error != want {
			t.Fatalf("%s → %+v", data, r)
		}
	}
	rs := c.connect("")
	if len(rs) != 2 || rs[0].Channel != "/service/chat/sales" || string(rs[0].Data) != `{"answer":42}` {
		t.Fatalf("delivered %+v", rs)
	}
}

func TestMalformedAndOversizeRequests(t *testing.T) {
	srv := newTestServer(t, Config{MaxRequestBytes: 2000, MaxMessagesPerBatch: 3, MaxMessageBytes: 200})
	c := newClient(t, srv)
	for body, code := range map[string]int{
		"":                               400,
		"not json":                       400,
		"[1,2]":                          400,
		"[]":                             400,
		`{"channel":5}`:                  400,
		`[{"channel":"/a"}`:              400,
		`[{},{},{},{}]`:                  400,
		`message=%5B%7B%7D`:              400,
		strings.Repeat(" ", 2001) + "[]": 413,
	} {
		if rec := c.do(body); rec.Code != code {
			t.Errorf("%.40q → HTTP %d, want %d", body, rec.Code, code)
		}
	}
	// A message over MaxMessageBytes gets its own error reply; the others are processed.
	big := `{"channel":"/meta/handshake","id":"big","version":"1.0","ext":{"pad":"` + strings.Repeat("x", 300) + `"}}`
	rs := c.send(big, `{"channel":"/meta/handshake","version":"1.0"}`)
	if len(rs) != 2 || rs[0].ok() || rs[0].Error != "413::message_too_large" || rs[0].ID != "big" || !rs[1].ok() {
		t.Fatalf("%+v", rs)
	}
	// Faye's cross-origin form body.
	rec := c.do(`message=` + `%5B%7B%22channel%22%3A%22%2Fmeta%2Fhandshake%22%2C%22version%22%3A%221.0%22%7D%5D`)
	if rs := decodeReplies(t, rec.Body.Bytes()); !rs[0].ok() {
		t.Fatalf("form body: %+v", rs)
	}
	// A single object body.
	if rs := decodeReplies(t, c.do(`{"channel":"/meta/handshake","version":"1.0"}`).Body.Bytes()); !rs[0].ok() {
		t.Fatal(rs)
	}
	// Odd ids are dropped, not echoed.
	if rs := c.send(`{"channel":"/meta/handshake","version":"1.0","id":{"x":1}}`); rs[0].ID != "" {
		t.Fatal(rs)
	}
}

func TestCallbackPolling(t *testing.T) {
	srv := newTestServer(t, Config{})
	get := func(q string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/cometd?"+q, nil))
		return rec
	}
	rec := get(`jsonp=__jsonp1__&message=` + `%5B%7B%22channel%22%3A%22%2Fmeta%2Fhandshake%22%2C%22version%22%3A%221.0%22%7D%5D`)
	body := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(body, "/**/__jsonp1__([{") || !strings.HasSuffix(body, "]);") ||
		rec.Header().Get("Content-Type") != "text/javascript;charset=UTF-8" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("%d %q %v", rec.Code, body, rec.Header())
	}
	for _, cb := range []string{"alert(1)", "a-b", "1abc", "a..b", "a.", ".a", "a b", "x;y", strings.Repeat("a", 65), "a\u2028"} {
		if rec := get("jsonp=" + urlEscape(cb) + "&message=%5B%5D"); rec.Code != 400 {
			t.Errorf("callback %q accepted", cb)
		}
	}
	for _, cb := range []string{"cb", "_cometd_jsonp_3", "$.x.y1", "jQuery123_456"} {
		if !validCallback(cb) {
			t.Errorf("callback %q refused", cb)
		}
	}
	if rec := get("jsonp=cb"); rec.Code != 400 {
		t.Fatal("missing message accepted")
	}
}

func urlEscape(s string) string {
	r := strings.NewReplacer("%", "%25", " ", "%20", ";", "%3B", "(", "%28", ")", "%29", "&", "%26")
	return r.Replace(s)
}

func TestOriginAllowList(t *testing.T) {
	srv := newTestServer(t, Config{AllowedOrigins: []string{"https://shop.example.com", "*.widgets.test", "http://localhost:3000"}})
	cases := []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://chat.test", false}, // Host chat.test: the Host header is not trusted (DNS rebinding)
		{"https://shop.example.com", true},
		{"https://shop.example.com:443", true},
		{"http://shop.example.com", false},
		{"https://evil.example.com", false},
		{"https://a.widgets.test", true},
		{"http://a.b.widgets.test:8080", true},
		{"https://widgets.test", false},
		{"https://evilwidgets.test", false},
		{"http://localhost:3000", true},
		{"http://localhost:3001", false},
		{"null", false},
	}
	for _, tc := range cases {
		c := newClient(t, srv)
		c.origin = tc.origin
		rec := c.do(`[{"channel":"/meta/handshake","version":"1.0"}]`)
		if (rec.Code == 200) != tc.ok {
			t.Errorf("origin %q: HTTP %d", tc.origin, rec.Code)
		}
		// AllowsOrigin (the router's CORS decision) agrees with the refusal.
		req := httptest.NewRequest(http.MethodPost, "http://chat.test/cometd/handshake", nil)
		req.Header.Set("Origin", tc.origin)
		if got := srv.AllowsOrigin(req, tc.origin); got != (tc.ok && tc.origin != "") {
			t.Errorf("AllowsOrigin(%q) = %v", tc.origin, got)
		}
		if rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("origin %q: the Bayeux server writes CORS headers itself: %v", tc.origin, rec.Header())
		}
	}
	if _, err := NewServer(Config{AllowedOrigins: []string{"ftp://x"}}); err == nil {
		t.Fatal("bad pattern accepted")
	}
	for _, bad := range []string{"chat.test", "https://chat.test/path", "ftp://chat.test", "https://u@chat.test"} {
		if _, err := NewServer(Config{PublicOrigins: []string{bad}}); err == nil {
			t.Errorf("public origin %q accepted", bad)
		}
	}
}

// TestSameOriginIsPublicOriginsNotHost is issue 7 item 11: the same-origin rule compared the
// Origin with the Host header, which a DNS-rebinding page controls. Same-origin is now one of
// the configured public origins; without any, only a loopback origin equal to the Host.
func TestSameOriginIsPublicOriginsNotHost(t *testing.T) {
	handshake := func(srv *Server, host, origin string) int {
		req := httptest.NewRequest(http.MethodPost, "http://"+host+"/cometd/handshake", strings.NewReader(`[{"channel":"/meta/handshake","version":"1.0"}]`))
		req.Header.Set("Origin", origin)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec.Code
	}
	public := newTestServer(t, Config{PublicOrigins: []string{"https://chat.example.com:443/"}})
	plain := newTestServer(t, Config{})
	for _, tc := range []struct {
		srv          *Server
		host, origin string
		want         int
	}{
		{public, "chat.example.com", "https://chat.example.com", 200},
		{public, "evil.test", "https://chat.example.com", 200}, // the origin decides, not the Host
		{public, "evil.test", "https://evil.test", 403},        // forged Host equal to a foreign Origin
		{public, "localhost:8080", "http://localhost:8080", 403},
		{plain, "evil.test:8080", "http://evil.test:8080", 403},
		{plain, "localhost:8080", "http://localhost:8080", 200},
		{plain, "127.0.0.1:8080", "http://127.0.0.1:8080", 200},
		{plain, "[::1]:8080", "http://[::1]:8080", 200},
		{plain, "localhost:8080", "http://localhost:9090", 403},
	} {
		if got := handshake(tc.srv, tc.host, tc.origin); got != tc.want {
			t.Errorf("Host %s Origin %s: HTTP %d, want %d", tc.host, tc.origin, got, tc.want)
		}
	}
	if n := public.Stats().Refusals["origin"]; n != 2 {
		t.Errorf("origin refusals counted %d, want 2", n)
	}
}

func TestDeliverLiveAndPublishAPI(t *testing.T) {
	srv := newTestServer(t, Config{})
	if err := srv.Deliver(context.Background(), "nope", "/x", 1); !errors.Is(err, ErrSessionUnknown) {
		t.Fatal(err)
	}
	if srv.Live("nope") {
		t.Fatal("live")
	}
	c := newClient(t, srv)
	c.handshake("")
	c.subscribe("/news/**")
	if err := srv.Publish(context.Background(), "/news/today", map[string]string{"h": "x"}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Publish(context.Background(), "/news/*", 1); err == nil {
		t.Fatal("published to a wildcard")
	}
	if err := srv.Deliver(context.Background(), c.id, "/x", json.RawMessage(`{bad`)); err == nil {
		t.Fatal("invalid raw JSON accepted")
	}
	rs := c.connect("")
	if len(rs) != 2 || string(rs[0].Data) != `{"h":"x"}` {
		t.Fatalf("%+v", rs)
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		p, ch string
		want  bool
	}{
		{"/a/*", "/a/b", true}, {"/a/*", "/a", false}, {"/a/*", "/a/b/c", false},
		{"/a/**", "/a/b", true}, {"/a/**", "/a/b/c", true}, {"/a/**", "/a", false}, {"/a/**", "/ab/c", false},
		{"/a/b", "/a/b", true}, {"/a/b", "/a/bc", false}, {"/**", "/x", true}, {"/*", "/x/y", false},
	}
	for _, tc := range cases {
		if Match(tc.p, tc.ch) != tc.want {
			t.Errorf("Match(%q, %q) != %v", tc.p, tc.ch, tc.want)
		}
	}
	// patternsFor lists exactly the patterns that match.
	got := patternsFor("/a/b/c", nil)
	want := "/a/b/c /a/b/* /a/b/** /a/** /**"
	if strings.Join(got, " ") != want {
		t.Fatalf("%v", got)
	}
	for _, p := range got {
		if !Match(p, "/a/b/c") {
			t.Errorf("%s", p)
		}
	}
}

func TestCallbackPollingHeldConnectResumedByAnotherRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newTestServer(t, Config{PublicOrigins: []string{"https://chat.test"}})
		c := newClient(t, srv)
		c.handshake("")
		get := func(m string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodGet, "/cometd?jsonp=cb&message="+urlQueryEscape("["+m+"]"), nil)
			req.Header.Set("Referer", "https://chat.test/chat.html") // a script tag of the server's own page
			req.AddCookie(c.cookie)
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			return rec
		}
		connect := `{"channel":"/meta/connect","id":"c","clientId":"` + c.id + `","connectionType":"callback-polling"}`
		get(connect)
		start := time.Now()
		held := async(func() string { return get(connect).Body.String() })
		synctest.Wait()
		if srv.Stats().Connections[TransportCallbackPolling] != 1 {
			t.Fatal("not held")
		}
		rec := get(`{"channel":"/meta/subscribe","id":"s","clientId":"` + c.id + `","subscription":"/a"}`)
		if !strings.Contains(rec.Body.String(), `"successful":true`) {
			t.Fatal(rec.Body.String())
		}
		if body := <-held; time.Since(start) != 0 || !strings.HasPrefix(body, "/**/cb([{\"channel\":\"/meta/connect\"") {
			t.Fatalf("held connect after %v: %s", time.Since(start), body)
		}
	})
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
