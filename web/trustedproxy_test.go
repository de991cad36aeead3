package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/bayeux"
)

// post sends POST path with an optional X-Forwarded-For and returns the status.
func postXFF(t *testing.T, url, xff string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(""))
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestRateLimitBehindTrustedProxy: the test client on 127.0.0.1 plays a reverse proxy. Listed
// in trusted-proxies, each forwarded-for client gets its own creation allowance; not listed,
// X-Forwarded-For is ignored (a direct client cannot pick a fresh address per request), and
// a forwarded-for chain that does not parse falls back to the peer instead of a free key.
func TestRateLimitBehindTrustedProxy(t *testing.T) {
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, tc := range []struct {
		name    string
		trusted []string
		want    []int // for: client A, client A again, client B, garbage chain, garbage again
	}{
		{"trusted", []string{"127.0.0.1/32", "::1/128"}, []int{200, 429, 200, 200, 429}},
		{"not trusted", nil, []int{200, 429, 429, 429, 429}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewServer(ServerOptions{TrustedProxies: tc.trusted, RateLimits: RateLimits{ChatCreatesPerMinute: 1}})
			s.Handle(chatRESTSubtree, ok)
			ts := httptest.NewServer(s)
			defer ts.Close()
			u := ts.URL + "/genesys/2/chat/svc"
			got := []int{
				postXFF(t, u, "203.0.113.7"),
				postXFF(t, u, "198.51.100.1, 203.0.113.7"), // A again: only the rightmost untrusted hop counts
				postXFF(t, u, "203.0.113.8"),
				postXFF(t, u, "not-an-ip"),
				postXFF(t, u, "also garbage"),
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("statuses = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestBayeuxHandshakeLimitBehindTrustedProxy: the Bayeux server behind the HTTP surface keys
// its handshake limit by ClientAddress, so two customers behind one trusted proxy are limited
// separately, and one customer's handshakes do not lock the other out.
func TestBayeuxHandshakeLimitBehindTrustedProxy(t *testing.T) {
	bx, err := bayeux.NewServer(bayeux.Config{HandshakesPerMinute: 1, HandshakeBurst: 1, ClientAddress: ClientAddress})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bx.Shutdown(context.Background()) }()
	s := NewServer(ServerOptions{TrustedProxies: []string{"127.0.0.0/8"}, Bayeux: bx})
	ts := httptest.NewServer(s)
	defer ts.Close()
	handshake := func(xff string) string {
		req, _ := http.NewRequest("POST", ts.URL+BayeuxPath,
			strings.NewReader(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if r := handshake("203.0.113.7"); !strings.Contains(r, `"successful":true`) {
		t.Fatalf("first handshake of A: %s", r)
	}
	if r := handshake("203.0.113.7"); !strings.Contains(r, "too_many_handshakes") {
		t.Fatalf("second handshake of A was not limited: %s", r)
	}
	if r := handshake("203.0.113.8"); !strings.Contains(r, `"successful":true`) {
		t.Fatalf("B was limited by A's handshakes: %s", r)
	}
}
