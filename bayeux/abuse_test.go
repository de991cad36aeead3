package bayeux

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// netClient speaks long-polling to a server over a real loopback socket, with full control
// of the headers a browser would (or would not) send. It keeps no cookie jar: the cookie is
// sent only when the test sets one, like an XHR with withCredentials=false.
type netClient struct {
	t       *testing.T
	url     string
	origin  string
	referer string
	cookie  string // BAYEUX_BROWSER value to send; "" sends none
	id      string
	last    *http.Response
}

func (c *netClient) post(body string) (int, []msg) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), http.MethodPost, c.url, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	c.headers(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.last = resp
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, decodeReplies(c.t, b)
}

func (c *netClient) headers(req *http.Request) {
	if c.origin != "" {
		req.Header.Set("Origin", c.origin)
	}
	if c.referer != "" {
		req.Header.Set("Referer", c.referer)
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: BrowserCookie, Value: c.cookie})
	}
}

// send posts messages and fails the test unless the answer is 200.
func (c *netClient) send(msgs ...string) []msg {
	c.t.Helper()
	code, rs := c.post("[" + strings.Join(msgs, ",") + "]")
	if code != http.StatusOK {
		c.t.Fatalf("HTTP %d", code)
	}
	return rs
}

const lpHandshake = `{"channel":"/meta/handshake","id":"1","version":"1.0","minimumVersion":"1.0","supportedConnectionTypes":["websocket","long-polling","callback-polling"],"advice":{"timeout":60000,"interval":0}}`

func (c *netClient) handshake() msg {
	c.t.Helper()
	rs := c.send(lpHandshake)
	if len(rs) != 1 {
		c.t.Fatalf("handshake replies %+v", rs)
	}
	if rs[0].ok() {
		c.id = rs[0].ClientID
	}
	return rs[0]
}

func (c *netClient) connect(n int, extra string) []msg {
	c.t.Helper()
	m := fmt.Sprintf(`{"channel":"/meta/connect","id":"%d","clientId":"%s","connectionType":"long-polling"`, n, c.id)
	if extra != "" {
		m += "," + extra
	}
	return c.send(m + "}")
}

// TestCookielessLongPollingContinuesSession is issue 8 §1.3: the Genesys widget's long-polling
// XHRs go cross-origin without credentials, so no BAYEUX_BROWSER cookie ever comes back. Its
// exchanges, shaped as on the wire, must connect and receive, never loop on 402.
func TestCookielessLongPollingContinuesSession(t *testing.T) {
	srv, hs := newHTTPServer(t, Config{AllowedOrigins: []string{"http://shop.test"}, Timeout: 5 * time.Second})
	c := &netClient{t: t, url: hs.URL + "/genesys/cometd/handshake", origin: "http://shop.test", referer: "http://shop.test/product/42"}
	if hsr := c.handshake(); !hsr.ok() {
		t.Fatalf("handshake %+v", hsr)
	}
	c.url = hs.URL + "/genesys/cometd/connect"
	first := last(t, c.connect(2, `"advice":{"timeout":0}`))
	if !first.ok() || first.Advice == nil || first.Advice.Reconnect != "retry" {
		t.Fatalf("first connect without cookie: %+v advice %+v", first, first.Advice)
	}
	c.url = hs.URL + "/genesys/cometd"
	if r := c.send(`{"channel":"/service/chatV2/customer-support","id":"3","clientId":"` + c.id + `","data":{"operation":"requestChat"}}`)[0]; !r.ok() {
		t.Fatalf("publish without cookie: %+v", r)
	}
	// A held connect is woken by a delivery and carries it: the session really continues.
	c.url = hs.URL + "/genesys/cometd/connect"
	got := async(func() []msg { return c.connect(4, "") })
	waitFor(t, func() bool { return srv.Live(c.id) })
	if err := srv.Deliver(t.Context(), c.id, "/service/chatV2/customer-support", map[string]any{"message": "hello"}); err != nil {
		t.Fatal(err)
	}
	rs := <-got
	if len(rs) != 2 || rs[0].Channel != "/service/chatV2/customer-support" || !last(t, rs).ok() {
		t.Fatalf("held connect: %+v", rs)
	}
	// The cookie still protects when present: another browser's cookie is refused.
	c.cookie = newID()
	r := last(t, c.connect(5, `"advice":{"timeout":0}`))
	if r.ok() || r.Error != "402::session_unknown" || r.Advice.Reconnect != "handshake" {
		t.Fatalf("foreign cookie: %+v", r)
	}
}

// TestHandshakeStormFromOneAddressIsRateLimited is issue 7 item 7: cookie-less handshakes
// (a new browser id each, so the per-browser cap never bites) in a tight loop from one
// address. Past the burst they are refused with advice that makes CometD wait and handshake
// again; the sessions created stay bounded; after the advised interval a handshake succeeds.
func TestHandshakeStormFromOneAddressIsRateLimited(t *testing.T) {
	const burst = 5
	srv, hs := newHTTPServer(t, Config{HandshakesPerMinute: 60, HandshakeBurst: burst})
	c := &netClient{t: t, url: hs.URL}
	start := time.Now()
	ok, refused := 0, 0
	var advice *adviceOut
	for range 300 {
		r := c.handshake()
		if r.ok() {
			ok++
			continue
		}
		refused++
		if r.Error != "429::too_many_handshakes" || r.Advice == nil || r.Advice.Reconnect != "handshake" || r.Advice.Interval == nil {
			t.Fatalf("refusal %+v advice %+v", r, r.Advice)
		}
		advice = r.Advice
	}
	// One token a second refills: allow what the elapsed time could have added.
	if max := burst + int(time.Since(start).Seconds()) + 1; ok > max || ok < burst {
		t.Fatalf("%d handshakes succeeded in %s, want %d..%d", ok, time.Since(start), burst, max)
	}
	if got := srv.Stats().Sessions; got != int64(ok) {
		t.Fatalf("sessions %d, want %d", got, ok)
	}
	if n := srv.Stats().Refusals["handshake_rate"]; n != uint64(refused) {
		t.Fatalf("refusals counted %d, want %d", n, refused)
	}
	if iv := *advice.Interval; iv < 1000 || iv > 60000 {
		t.Fatalf("advised interval %d ms", iv)
	}
	// A websocket handshake from the same address shares the budget.
	ws := dialWS(t, hs.URL, nil)
	ws.write(`{"channel":"/meta/handshake","id":"1","version":"1.0","supportedConnectionTypes":["websocket"]}`)
	if r := ws.read()[0]; r.ok() || r.Error != "429::too_many_handshakes" {
		t.Fatalf("websocket handshake during the storm: %+v", r)
	}
	// A client that follows the advice gets in.
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(time.Duration(*advice.Interval) * time.Millisecond) // what CometD does with the advice
		r := c.handshake()
		if r.ok() {
			break
		}
		advice = r.Advice
		if time.Now().After(deadline) {
			t.Fatalf("still refused after following the advice: %+v", r)
		}
	}
}

// TestAddrLimiterKeyMapIsBounded fills the limiter with more addresses than it keeps: memory
// stays at maxLimiterKeys, idle addresses are forgotten, and addresses without room share
// one bucket instead of going unlimited.
func TestAddrLimiterKeyMapIsBounded(t *testing.T) {
	l := newAddrLimiter(60, 2)
	now := time.Unix(1_700_000_000, 0)
	for i := range maxLimiterKeys {
		l.allow(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), now)
	}
	if len(l.m) != maxLimiterKeys {
		t.Fatalf("%d keys kept", len(l.m))
	}
	// New addresses now share the overflow bucket (burst 2): the third is refused.
	a, _ := l.allow("192.0.2.1", now)
	b, _ := l.allow("192.0.2.2", now)
	c, _ := l.allow("192.0.2.3", now)
	if !a || !b || c {
		t.Fatalf("overflow bucket: %v %v %v", a, b, c)
	}
	// Once the old addresses have their burst back they are forgotten and new ones get room.
	later := now.Add(time.Minute)
	if ok, _ := l.allow("192.0.2.4", later); !ok || len(l.m) > 1 {
		t.Fatalf("after idle sweep: ok=%v keys=%d", ok, len(l.m))
	}
}

func TestAddrKey(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000":            "127.0.0.1",
		"[::ffff:10.0.0.1]:80":      "10.0.0.1",
		"[2001:db8:1:2:3:4:5:6]:80": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:1":  "2001:db8:1:2::/64",
		"pipe":                      "pipe",
	} {
		if got := addrKey(in); got != want {
			t.Errorf("addrKey(%q) = %q, want %q", in, got, want)
		}
	}
}
