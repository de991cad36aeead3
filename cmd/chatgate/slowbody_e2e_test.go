//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSlowBodyAttackLeavesStoreWriting performs the attack of issue 7 item 2 against the
// real binary, scaled down: the binary runs with an open-file limit of 256 (so the
// automatic connection cap is 128), and 300 clients each send request headers and then a
// body at one byte every 200 ms, reconnecting for 4 s. Before the fix those connections
// were held forever, took every descriptor, and the embedded store refused every write
// afterwards. Now: each slow body is cut off after body-read-timeout, a normal chat
// creation during the attack succeeds, and afterwards /readyz is ready and writes work,
// with no store write error in the log. A held Bayeux /meta/connect (bayeux-timeout 3 s)
// outlives the 1 s body deadline.
func TestSlowBodyAttackLeavesStoreWriting(t *testing.T) {
	const (
		attackers   = 300
		attackFor   = 4 * time.Second
		bodyTimeout = time.Second
	)
	bin := binary(t)
	cmd := exec.Command("/bin/sh", "-c", `ulimit -n 256 && exec "$0" "$@"`, bin,
		"--addr", "127.0.0.1:0", "--data", t.TempDir(),
		"--body-read-timeout", bodyTimeout.String(), "--bayeux-timeout", "3s",
		// Every attacker is a chat creation from 127.0.0.1: with the per-address limits on,
		// most would be refused 429 before their body is read, which is not what this tests.
		"--chat-creates-per-minute", "0", "--rest-requests-per-minute", "0")
	p := startCommand(t, nil, cmd)
	if log := p.logText(); !strings.Contains(log, "max_connections=128") || !strings.Contains(log, "open_file_limit=256") {
		t.Fatalf("listening line lacks the derived cap:\n%s", log)
	}
	createChat(t, p, restSvc, url.Values{"nickname": {"before"}})

	heldConnect(t, p, 3*time.Second)

	// A customer arriving in the middle of the attack gets a chat, on a new connection (not
	// one kept alive from before): it waits in the accept queue for a free slot, at most
	// about a body deadline per queued round.
	during := func() {
		start := time.Now()
		fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
		resp, err := fresh.PostForm(p.url("/genesys/2/chat/"+restSvc), url.Values{"nickname": {"during"}})
		if err != nil {
			t.Errorf("chat creation during the attack: %v", err)
			return
		}
		if r := readGMS(t, resp); r.HTTP != 200 || r.StatusCode != 0 || r.ChatID == "" {
			t.Errorf("chat creation during the attack: %+v", r)
		}
		t.Logf("chat created during the attack in %s", time.Since(start).Round(time.Millisecond))
	}
	cutOff, failed := slowBodyAttack(p.addr, attackers, attackFor, during)
	if t.Failed() {
		return
	}
	if failed > 0 || cutOff < attackers {
		t.Fatalf("%d slow connections closed by the server, %d not closed within 30 s", cutOff, failed)
	}

	// After the attack: ready, and the store writes.
	eventually(t, 10*time.Second, "/readyz ready after the attack", func() bool {
		code, _ := httpGet(t, p.url("/readyz"))
		return code == 200
	})
	c, _ := createChat(t, p, restSvc, url.Values{"nickname": {"after"}})
	if r := c.op("send", "message", "hello after the attack"); r.HTTP != 200 || r.StatusCode != 0 {
		t.Fatalf("send after the attack: %+v", r)
	}
	_, metrics := httpGet(t, p.url("/metrics"))
	v, ok := metricValue(metrics, "chatgate_http_body_read_timeouts_total")
	if n, _ := strconv.ParseFloat(v, 64); !ok || n < attackers {
		t.Fatalf("chatgate_http_body_read_timeouts_total = %q, want at least %d", v, attackers)
	}
	if v, ok := metricValue(metrics, "chatgate_http_connections_max"); !ok || v != "128" {
		t.Fatalf("chatgate_http_connections_max = %q", v)
	}
	for _, bad := range []string{"Critical write error", "too many open files"} {
		if strings.Contains(p.logText(), bad) {
			t.Fatalf("log reports %q:\n%s", bad, p.logText())
		}
	}
}

// TestSlowBodyCutOffOnEveryKindOfEndpoint: the body deadline is not the GMS adapter's but
// the router's, so a trickled body is cut off on the CometD endpoint and on the
// unauthenticated admin PUT as well (issue 7 names both).
func TestSlowBodyCutOffOnEveryKindOfEndpoint(t *testing.T) {
	p := startProcessEnv(t, []string{"CHATGATE_SECRETS_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="},
		"--addr", "127.0.0.1:0", "--data", t.TempDir(), "--body-read-timeout", "1s")
	for _, tc := range []struct{ method, path, contentType, start string }{
		{"POST", "/genesys/cometd/handshake", "application/json", "["},
		{"PUT", "/admin/push/credentials/webpush/default", "application/json", "{"},
		{"POST", "/genesys/2/chat-ntf", "application/x-www-form-urlencoded", "operation="},
	} {
		life, err := slowRequest(p.addr, tc.method, tc.path, tc.contentType, tc.start, 15*time.Second)
		if err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.path, err)
			continue
		}
		// Without the deadline the connection would stay open until the client's 15 s limit;
		// closed before 1 s it would have been answered without its body being waited for.
		if life < time.Second || life > 10*time.Second {
			t.Errorf("%s %s: connection closed after %s, want about the 1 s body deadline", tc.method, tc.path, life)
		}
	}
}

// TestStoreRecoversAfterDescriptorExhaustion runs the same attack with the connection cap
// turned off (max-connections -1), so that the descriptors do run out and the embedded
// store hits "too many open files", as in issue 7. Once the attack has ended the store
// must write again by itself: /readyz ready, a chat created and a message sent, and the
// restart logged.
func TestStoreRecoversAfterDescriptorExhaustion(t *testing.T) {
	bin := binary(t)
	cmd := exec.Command("/bin/sh", "-c", `ulimit -n 256 && exec "$0" "$@"`, bin,
		"--addr", "127.0.0.1:0", "--data", t.TempDir(), "--body-read-timeout", "5s", "--max-connections", "-1",
		"--chat-creates-per-minute", "0", "--rest-requests-per-minute", "0")
	p := startCommand(t, nil, cmd)
	createChat(t, p, restSvc, url.Values{"nickname": {"before"}})

	// 300 slow bodies held 5 s each against 256 descriptors: exhausted for the whole 6 s, so
	// the store's once-a-second sync certainly meets "too many open files".
	slowBodyAttack(p.addr, 300, 6*time.Second, func() {})
	if !strings.Contains(p.logText(), "Critical write error") {
		t.Fatalf("the attack did not exhaust the descriptors (no store write error logged):\n%s", p.logText())
	}

	// The restart back-off has grown during the attack (doubling from 0.5 s while errors go on).
	eventually(t, 60*time.Second, "/readyz ready after the attack", func() bool {
		resp, err := http.Get(p.url("/readyz"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	// What this test asserts is that the store recovers by itself, not that the first request
	// after the first 200 from /readyz succeeds: the server releases the descriptors of the
	// attack's connections a moment after the clients closed them, and a restart into that
	// moment can hit the error again (readiness then goes back to 503 until the next restart).
	// One loaded CI run saw a 503 here; every refused attempt is logged so a failure says why.
	base := p.url("/genesys/2/chat/" + restSvc)
	var c *gmsChat
	eventually(t, 60*time.Second, "a chat created after the recovery", func() bool {
		r := postForm(t, base, url.Values{"nickname": {"after"}})
		if r.HTTP != 200 || r.StatusCode != 0 || r.ChatID == "" {
			t.Logf("creation after the recovery refused: %+v", r)
			return false
		}
		c = &gmsChat{t: t, base: base, chatID: r.ChatID, userID: r.UserID, secureKey: r.SecureKey, alias: r.Alias}
		return true
	})
	if r := c.op("send", "message", "hello after the recovery"); r.HTTP != 200 || r.StatusCode != 0 {
		t.Fatalf("send after the recovery: %+v", r)
	}
	if !strings.Contains(p.logText(), "writes accepted again") {
		t.Fatal("no restart of the store logged")
	}
}

// slowBodyAttack runs attackers clients that each open a connection, send a slow body
// (slowBody) and open the next one once the server has closed it, for d; during runs in the
// middle of it. It returns how many connections the server closed and how many it did not
// close within slowBody's limit.
func slowBodyAttack(addr string, attackers int, d time.Duration, during func()) (cutOff, failed int64) {
	var (
		wg       sync.WaitGroup
		cut, bad atomic.Int64
		stopDial = make(chan struct{})
	)
	for range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stopDial:
					return
				default:
				}
				if _, err := slowBody(addr, 30*time.Second); err != nil {
					bad.Add(1)
					return
				}
				cut.Add(1)
			}
		}()
	}
	timer := time.NewTimer(d / 2)
	<-timer.C
	during()
	timer.Reset(d / 2)
	<-timer.C
	close(stopDial)
	wg.Wait()
	return cut.Load(), bad.Load()
}

// slowBody sends the headers of a chat creation with a 1000-byte body, then one body
// byte every 200 ms, and returns how long the connection lived once the server closed it
// (an error if that takes longer than limit).
func slowBody(addr string, limit time.Duration) (time.Duration, error) {
	return slowRequest(addr, "POST", "/genesys/2/chat/"+restSvc, "application/x-www-form-urlencoded", "nickname=", limit)
}

// slowRequest is slowBody for any method, path and body type.
func slowRequest(addr, method, path, contentType, start string, limit time.Duration) (time.Duration, error) {
	begin := time.Now()
	c, err := net.DialTimeout("tcp", addr, limit)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(begin.Add(limit))
	if _, err := fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: 1000\r\n\r\n%s", method, path, addr, contentType, start); err != nil {
		return 0, err
	}
	closed := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, c) // nil at EOF: the server closed the connection
		closed <- err
	}()
	tk := time.NewTicker(200 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case err := <-closed:
			if err != nil && !isReset(err) {
				return 0, fmt.Errorf("slow connection not closed by the server within %s: %w", limit, err)
			}
			return time.Since(begin), nil
		case <-tk.C:
			_, _ = c.Write([]byte("a")) // fails once the server closed; the read side reports it
		}
	}
}

// isReset reports a connection reset: the server closing a connection with unread input
// makes the kernel answer with RST, which the client may see instead of EOF.
func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// heldConnect handshakes over long-polling and checks that a /meta/connect is held for
// about bayeux-timeout (longer than the body deadline) and then answered successfully.
func heldConnect(t *testing.T, p *process, timeout time.Duration) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 2 * timeout}
	post := func(msg string) []map[string]any {
		t.Helper()
		resp, err := hc.Post(p.url("/genesys/cometd"), "application/json", strings.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out []map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out) == 0 {
			t.Fatalf("bayeux answer: %d %v", resp.StatusCode, err)
		}
		return out
	}
	hs := post(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`)
	id, _ := hs[0]["clientId"].(string)
	if hs[0]["successful"] != true || id == "" {
		t.Fatalf("handshake: %v", hs)
	}
	connect := fmt.Sprintf(`[{"channel":"/meta/connect","clientId":%q,"connectionType":"long-polling"}]`, id)
	post(connect) // the first connect after a handshake returns at once
	start := time.Now()
	r := post(connect)
	held := time.Since(start)
	if r[0]["successful"] != true || held < timeout*9/10 {
		t.Fatalf("held connect answered after %s: %v", held, r)
	}
}
