package bayeux

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
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
	// The cookie still protects when present: the cookie of another browser with live
	// sessions is refused.
	other := &netClient{t: t, url: hs.URL + "/genesys/cometd/handshake", origin: "http://shop.test", cookie: newID()}
	if r := other.handshake(); !r.ok() {
		t.Fatalf("other browser's handshake %+v", r)
	}
	c.cookie = other.cookie
	r := last(t, c.connect(5, `"advice":{"timeout":0}`))
	if r.ok() || r.Error != "402::session_unknown" || r.Advice.Reconnect != "handshake" {
		t.Fatalf("foreign cookie: %+v", r)
	}
}

// TestCookieMintedByRacingUpgradeIsNotForeign: Faye probes the websocket while its
// long-polling handshake is in flight; the upgrade (no cookie yet) is answered with a new
// BAYEUX_BROWSER cookie, the handshake with another, and Faye keeps whichever came last. A
// cookie that owns no session is treated like no cookie, so the first connect goes through
// instead of 402 and a needless re-handshake (a flake of the Faye websocket tests under load).
func TestCookieMintedByRacingUpgradeIsNotForeign(t *testing.T) {
	_, hs := newHTTPServer(t, Config{})
	probe, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/genesys/cometd", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	var minted string
	for _, ck := range resp.Cookies() {
		if ck.Name == BrowserCookie {
			minted = ck.Value
		}
	}
	if minted == "" {
		t.Fatal("the upgrade set no BAYEUX_BROWSER cookie")
	}
	c := &netClient{t: t, url: hs.URL + "/genesys/cometd/handshake"}
	if r := c.handshake(); !r.ok() {
		t.Fatalf("handshake %+v", r)
	}
	c.url = hs.URL + "/genesys/cometd/connect"
	c.cookie = minted // the upgrade's Set-Cookie won the race in the client's jar
	if r := last(t, c.connect(2, `"advice":{"timeout":0}`)); !r.ok() {
		t.Fatalf("connect with the cookie of a session-less upgrade: %+v", r)
	}
}

// TestHandshakeStormFromOneAddressIsRateLimited is issue 7 item 7: cookie-less handshakes
// (a new browser id each, so the per-browser cap never bites) in a tight loop from one
// address. Past the burst they are refused with advice that makes CometD wait and handshake
// again; the sessions created stay bounded; after the advised interval a handshake succeeds.
func TestHandshakeStormFromOneAddressIsRateLimited(t *testing.T) {
	const burst = 5
	srv, hs := newHTTPServer(t, Config{HandshakesPerMinute: 60, HandshakeBurst: burst, MaxInterval: 5 * time.Minute})
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

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// bigPayload is a JSON string payload whose encoded delivery is about n bytes.
func bigPayload(i, n int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("x", n)))
}

// TestQueueBytesBoundedForSessionThatNeverConnects is issue 7 item 4: a session handshaken
// over the network that never connects receives many large deliveries (the attack sent 500
// requestNotifications answers of a 1 MB transcript). Its queue stays under the byte bound,
// the heap does not grow with the deliveries, the drops are counted, and a later connect
// gets the newest messages in order.
func TestQueueBytesBoundedForSessionThatNeverConnects(t *testing.T) {
	const msgSize, n = 200 << 10, 150 // 30 MB delivered in total
	// Default bounds (1 MiB per session); a long MaxInterval so that the idle session cannot
	// expire on a slow machine before the attack is over.
	srv, hs := newHTTPServer(t, Config{MaxInterval: 5 * time.Minute})
	c := &netClient{t: t, url: hs.URL}
	c.handshake()
	before := heapInUse()
	for i := range n {
		if err := srv.Deliver(t.Context(), c.id, "/service/chatV2/s", bigPayload(i, msgSize)); err != nil {
			t.Fatal(err)
		}
		if q := srv.Stats().QueuedBytes; q > 1<<20+msgSize+100 {
			t.Fatalf("after %d deliveries %d bytes queued", i+1, q)
		}
	}
	if grown := heapInUse() - before; grown > 8<<20 {
		t.Fatalf("heap grew by %d bytes", grown)
	}
	st := srv.Stats()
	kept := n - int(st.QueueDrops)
	if kept < 1 || kept > (1<<20)/msgSize {
		t.Fatalf("kept %d messages, dropped %d", kept, st.QueueDrops)
	}
	rs := c.connect(1, `"advice":{"timeout":0}`)
	if len(rs) != kept+1 || !last(t, rs).ok() {
		t.Fatalf("connect returned %d messages, want %d + reply", len(rs), kept)
	}
	for j, m := range rs[:kept] {
		var d struct{ I int }
		if err := json.Unmarshal(m.Data, &d); err != nil || d.I != n-kept+j {
			t.Fatalf("message %d is %d (%v), want the newest in order", j, d.I, err)
		}
	}
	if q := srv.Stats().QueuedBytes; q != 0 {
		t.Fatalf("%d bytes still accounted after the connect took them", q)
	}
}

// TestQueueBytesBoundedAcrossSessions: many sessions filling their queues cannot take more
// than the server-wide budget together.
func TestQueueBytesBoundedAcrossSessions(t *testing.T) {
	const msgSize, total = 64 << 10, 2 << 20
	srv, hs := newHTTPServer(t, Config{MaxTotalQueueBytes: total, MaxInterval: 5 * time.Minute})
	ids := make([]string, 20)
	for i := range ids {
		c := &netClient{t: t, url: hs.URL}
		c.handshake()
		ids[i] = c.id
	}
	before := heapInUse()
	for round := range 16 { // up to 1 MiB per session: 20 MiB without the total bound
		for _, id := range ids {
			if err := srv.Deliver(t.Context(), id, "/e", bigPayload(round, msgSize)); err != nil {
				t.Fatal(err)
			}
			if q := srv.Stats().QueuedBytes; q > total {
				t.Fatalf("%d bytes queued, budget %d", q, total)
			}
		}
	}
	if grown := heapInUse() - before; grown > 6<<20 {
		t.Fatalf("heap grew by %d bytes", grown)
	}
	if srv.Stats().QueueDrops == 0 {
		t.Fatal("no drop counted")
	}
}

// TestWebSocketFrameListBoundedInBytes: a websocket client that stops reading; the server's
// unsent frame list for it stays under the byte bound while deliveries keep coming.
func TestWebSocketFrameListBoundedInBytes(t *testing.T) {
	const msgSize = 128 << 10
	// MaxInterval well past the run: 200 large deliveries under -race on a loaded machine can
	// outlast the 10 s default, and an expired session would fail Deliver for the wrong reason.
	srv, hs := newHTTPServer(t, Config{MaxQueueBytes: 512 << 10, WriteTimeout: time.Minute, MaxInterval: 5 * time.Minute})
	ws := dialWS(t, hs.URL, nil)
	ws.handshake("")
	ws.connect(`"advice":{"timeout":0}`)
	ws.until(isConnect)
	// The client reads nothing more: once the socket buffers are full, frames pile up.
	for i := range 200 { // 25 MB, far beyond loopback socket buffers
		if err := srv.Deliver(t.Context(), ws.id, "/e", bigPayload(i, msgSize)); err != nil {
			t.Fatal(err)
		}
		if q := srv.Stats().QueuedBytes; q > 512<<10+msgSize+100 {
			t.Fatalf("after %d deliveries %d bytes queued", i+1, q)
		}
	}
	if srv.Stats().QueueDrops == 0 {
		t.Fatal("no drop counted: the frame list did not fill")
	}
}

// TestAckWebSocketDeliversMessageLargerThanQueueBound: the byte bounds keep the newest
// message even when it alone is larger; the websocket's frame list must not then drop it when
// the connect reply carries it (with ack the client acknowledges the whole batch, so a
// message dropped there would be lost for good).
func TestAckWebSocketDeliversMessageLargerThanQueueBound(t *testing.T) {
	srv, hs := newHTTPServer(t, Config{MaxQueueBytes: 64 << 10, MaxInterval: 5 * time.Minute})
	c := dialWS(t, hs.URL, nil)
	c.handshake(`{"ack":true}`)
	c.connect(`"advice":{"timeout":0},"ext":{"ack":0}`)
	c.until(isConnect)
	// No connect held: the message waits in the session queue, over the bound on its own.
	if err := srv.Deliver(t.Context(), c.id, "/e", bigPayload(7, 100<<10)); err != nil {
		t.Fatal(err)
	}
	c.connect(`"advice":{"timeout":0},"ext":{"ack":1}`)
	got := c.until(isConnect)
	if len(got) != 2 || !strings.Contains(string(got[0].Data), `"i":7`) {
		t.Fatalf("connect reply carried %d messages, want the large one and the reply", len(got))
	}
	if d := srv.Stats().QueueDrops; d != 0 {
		t.Fatalf("%d drops", d)
	}
}

// subscribeFrame is a /meta/subscribe of n channels with long names (the attack's shape:
// 512-byte names, many per session, many sessions per socket).
func subscribeFrame(clientID, id string, from, n int) string {
	return `{"channel":"/meta/subscribe","id":"` + id + `","clientId":"` + clientID + `","subscription":` + jsonChannels(from, n) + `}`
}

// TestSubscriptionCapsPerSocketAndServer is issue 7 item 6: sessions handshaken on one
// websocket (64 of them, the per-browser session cap) each subscribing to as many long channel
// names as they may. The socket's sessions together stop at the per-browser cap, with
// 403::too_many_subscriptions on the refused /meta/subscribe; the server-wide cap stops
// several sockets together; unsubscribing and session removal give the room back.
func TestSubscriptionCapsPerSocketAndServer(t *testing.T) {
	const perSession, perBrowser, total = 50, 300, 500
	srv, hs := newHTTPServer(t, Config{MaxSubscriptionsPerSession: perSession, MaxSubscriptionsPerBrowser: perBrowser, MaxSubscriptions: total,
		HandshakesPerMinute: -1, MaxInterval: 5 * time.Minute})
	attack := func(ws *wsClient) (ok, refused int, ids []string) {
		for s := range 64 {
			ws.write(`{"channel":"/meta/handshake","id":"h","version":"1.0","supportedConnectionTypes":["websocket"]}`)
			r := ws.read()[0]
			if !r.ok() {
				t.Fatalf("handshake %d: %+v", s, r)
			}
			ids = append(ids, r.ClientID)
			for k := range perSession/50 + 1 { // one batch more than a session may have
				ws.write(subscribeFrame(r.ClientID, "s", k*50, 50))
				rr := ws.read()[0]
				switch {
				case rr.ok():
					ok += 50
				case rr.Error == "403::too_many_subscriptions":
					refused++
				default:
					t.Fatalf("subscribe: %s", rr.Error)
				}
			}
		}
		return ok, refused, ids
	}
	a := dialWS(t, hs.URL, nil)
	okA, refusedA, idsA := attack(a)
	if okA != perBrowser || refusedA != 64*(perSession/50+1)-perBrowser/50 {
		t.Fatalf("one socket: %d subscriptions accepted, %d refused", okA, refusedA)
	}
	b := dialWS(t, hs.URL, nil)
	if okB, _, _ := attack(b); okB != total-perBrowser {
		t.Fatalf("second socket: %d accepted, want the %d left of the server cap", okB, total-perBrowser)
	}
	st := srv.Stats()
	if st.Subscriptions != total || st.Refusals["subscriptions"] == 0 {
		t.Fatalf("stats: %d subscriptions, %d refusals", st.Subscriptions, st.Refusals["subscriptions"])
	}
	// Unsubscribing gives room back to that browser and the server.
	a.write(`{"channel":"/meta/unsubscribe","id":"u","clientId":"` + idsA[0] + `","subscription":` + jsonChannels(0, 50) + `}`)
	if r := a.read()[0]; !r.ok() {
		t.Fatalf("unsubscribe: %s", r.Error)
	}
	a.write(subscribeFrame(idsA[perBrowser/perSession], "s2", 1000, 50)) // a session without any yet
	if r := a.read()[0]; !r.ok() {
		t.Fatalf("subscribe after unsubscribe: %s", r.Error)
	}
	// Removing a socket's sessions frees their subscriptions.
	for _, id := range idsA {
		a.write(`{"channel":"/meta/disconnect","id":"d","clientId":"` + id + `"}`)
		a.read()
	}
	if n := srv.Stats().Subscriptions; n != total-perBrowser {
		t.Fatalf("after disconnects %d subscriptions, want %d", n, total-perBrowser)
	}
}

func jsonChannels(from, n int) string {
	chans := make([]string, n)
	for i := range chans {
		chans[i] = fmt.Sprintf(`"/x/%0500d"`, from+i)
	}
	return "[" + strings.Join(chans, ",") + "]"
}

// jsonp sends one callback-polling request as a script tag would: GET, no Origin, the
// page's Referer (if any), the visitor's cookie (if any).
func (c *netClient) jsonp(messages string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), http.MethodGet, c.url+"?jsonp=cb&message="+url.QueryEscape(messages), nil)
	if err != nil {
		c.t.Fatal(err)
	}
	c.headers(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestJSONPFromForeignPageCannotFillVictimSessions is issue 7 item 8: JSONP skipped the
// origin check, so a foreign page could make the visitor's browser handshake 64 times with
// the visitor's cookie, after which the visitor's own handshake failed (too_many_sessions,
// reconnect none). A foreign Referer, or a hidden Referer with a cookie, is now refused; the
// victim keeps handshaking; JSONP from an allowed page still works.
func TestJSONPFromForeignPageCannotFillVictimSessions(t *testing.T) {
	srv, hs := newHTTPServer(t, Config{AllowedOrigins: []string{"https://shop.test"}, HandshakesPerMinute: -1, MaxInterval: 5 * time.Minute})
	victim := &netClient{t: t, url: hs.URL + "/genesys/cometd", origin: "https://shop.test"}
	if r := victim.handshake(); !r.ok() {
		t.Fatalf("victim handshake: %+v", r)
	}
	for _, ck := range victim.last.Cookies() {
		if ck.Name == BrowserCookie {
			victim.cookie = ck.Value
		}
	}
	if victim.cookie == "" {
		t.Fatal("no browser cookie")
	}
	hsMsg := `[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["callback-polling"]}]`
	for _, referer := range []string{"https://evil.test/page", ""} {
		attacker := &netClient{t: t, url: victim.url, referer: referer, cookie: victim.cookie}
		for range 100 {
			if code, body := attacker.jsonp(hsMsg); code != http.StatusForbidden {
				t.Fatalf("referer %q: JSONP handshake with the victim's cookie answered %d %.200s", referer, code, body)
			}
		}
	}
	ids, _ := srv.BrowserSessions(&http.Request{Header: http.Header{"Cookie": {BrowserCookie + "=" + victim.cookie}}})
	if len(ids) != 1 {
		t.Fatalf("victim's browser has %d sessions, want 1", len(ids))
	}
	if r := victim.handshake(); !r.ok() {
		t.Fatalf("victim's own handshake after the attack: %+v", r)
	}
	if n := srv.Stats().Refusals["origin"]; n != 200 {
		t.Fatalf("origin refusals counted %d, want 200", n)
	}
	// A script tag of an allowed page, with the cookie, works.
	page := &netClient{t: t, url: victim.url, referer: "https://shop.test/help", cookie: victim.cookie}
	if code, body := page.jsonp(hsMsg); code != http.StatusOK || !strings.Contains(body, `"successful":true`) {
		t.Fatalf("allowed page: %d %.200s", code, body)
	}
	// A non-browser client (no cookie, no Referer) may still use callback-polling.
	bare := &netClient{t: t, url: victim.url}
	if code, _ := bare.jsonp(hsMsg); code != http.StatusOK {
		t.Fatalf("cookie-less JSONP: %d", code)
	}
}

// TestForgedHostEqualToForeignOriginRefused is issue 7 item 11 over real sockets: a DNS
// rebinding page sends Host equal to its own Origin; neither long-polling nor a websocket
// upgrade accepts it as same-origin.
func TestForgedHostEqualToForeignOriginRefused(t *testing.T) {
	_, hs := newHTTPServer(t, Config{PublicOrigins: []string{"https://chat.example.com"}})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, hs.URL+"/genesys/cometd/handshake", strings.NewReader("["+lpHandshake+"]"))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "rebind.evil.test"
	req.Header.Set("Origin", "http://rebind.evil.test")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("long-polling with forged Host: %d", resp.StatusCode)
	}
	hdr := http.Header{"Host": {"rebind.evil.test"}, "Origin": {"http://rebind.evil.test"}}
	if c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http"), hdr); err == nil {
		c.Close()
		t.Fatal("websocket upgrade with forged Host accepted")
	} else if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("websocket upgrade with forged Host: %v %v", err, resp)
	}
	// The server's own public origin is accepted whatever the Host.
	ws := dialWS(t, hs.URL, http.Header{"Origin": {"https://chat.example.com"}})
	ws.handshake("")
}
