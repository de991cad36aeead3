package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clientFrom is an HTTP client whose connections come from the loopback address local
// (127.0.0.0/8 is all loopback on Linux), so that one test can be several client addresses.
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// rateLimited checks a refusal as a GMS client sees it: 429, Retry-After in seconds, and
// the GMS error body with statusCode 1 (retry may succeed) and code 500.
func rateLimited(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var b struct {
		StatusCode int `json:"statusCode"`
		Errors     []struct {
			Code   int    `json:"code"`
			Advice string `json:"advice"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(body, &b)
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || err != nil || ra <= 0 ||
		b.StatusCode != 1 || len(b.Errors) != 1 || b.Errors[0].Code != 500 || b.Errors[0].Advice == "" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s: %d Retry-After=%q %s", what, resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

// TestChatCreationRateLimitedPerAddress performs the creation flood of issue 7 item 5 at a
// small scale against the binary (chat-creates-per-minute 3, rest-requests-per-minute 20):
// one address gets 3 chats (with and without the trailing slash), then 429 with Retry-After
// and a GMS error body; operations on its chats still work; another address still creates;
// a third address runs into the general REST limit; CometD is not counted by either; the
// refusals are counted by limit.
func TestChatCreationRateLimitedPerAddress(t *testing.T) {
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(),
		"--chat-creates-per-minute", "3", "--rest-requests-per-minute", "20")
	create := func(c *http.Client, path string) *http.Response {
		t.Helper()
		resp, err := c.PostForm(p.url(path), url.Values{"nickname": {"Ann"}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	a := clientFrom("127.0.0.2")
	var first gmsResp
	for i, path := range []string{"/genesys/2/chat/" + restSvc, "/genesys/2/chat/" + restSvc + "/", "/genesys/2/chat/" + restSvc} {
		r := readGMS(t, create(a, path))
		if r.HTTP != 200 || r.StatusCode != 0 || r.ChatID == "" {
			t.Fatalf("creation %d from 127.0.0.2: %+v", i+1, r)
		}
		if i == 0 {
			first = r
		}
	}
	rateLimited(t, "4th creation from 127.0.0.2", create(a, "/genesys/2/chat/"+restSvc+"/"))
	rateLimited(t, "5th creation from 127.0.0.2", create(a, "/genesys/2/chat/"+restSvc))

	// The address's chats keep working: only creations are limited this tightly.
	resp, err := a.PostForm(p.url("/genesys/2/chat/"+restSvc+"/"+first.ChatID+"/send"), url.Values{
		"secureKey": {first.SecureKey}, "userId": {first.UserID}, "alias": {first.Alias}, "message": {"still here"}})
	if err != nil {
		t.Fatal(err)
	}
	if r := readGMS(t, resp); r.HTTP != 200 || r.StatusCode != 0 {
		t.Fatalf("send from the limited address: %+v", r)
	}

	// Another address is not affected.
	if r := readGMS(t, create(clientFrom("127.0.0.3"), "/genesys/2/chat/"+restSvc)); r.HTTP != 200 || r.StatusCode != 0 {
		t.Fatalf("creation from 127.0.0.3: %+v", r)
	}

	// The general REST limit: 20 requests a minute from 127.0.0.4, then 429.
	c := clientFrom("127.0.0.4")
	refresh := func() *http.Response {
		resp, err := c.PostForm(p.url("/genesys/2/chat/"+restSvc+"/"+first.ChatID+"/refresh"), url.Values{
			"secureKey": {first.SecureKey}, "userId": {first.UserID}, "alias": {first.Alias}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for i := range 20 {
		if r := readGMS(t, refresh()); r.HTTP != 200 {
			t.Fatalf("refresh %d from 127.0.0.4: %+v", i+1, r)
		}
	}
	rateLimited(t, "21st REST request from 127.0.0.4", refresh())

	// CometD from the same address is not counted by the REST limits.
	resp, err = c.Post(p.url("/genesys/cometd/handshake"), "application/json",
		strings.NewReader(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("CometD handshake from the REST-limited address: %d", resp.StatusCode)
	}

	_, metrics := httpGet(t, p.url("/metrics"))
	for sample, want := range map[string]float64{
		`chatgate_http_rate_limited_total{limit="chat_create"}`: 2,
		`chatgate_http_rate_limited_total{limit="rest"}`:        1,
	} {
		v, ok := metricValue(metrics, sample)
		if n, _ := strconv.ParseFloat(v, 64); !ok || n != want {
			t.Errorf("%s = %q, want %v", sample, v, want)
		}
	}
}
