package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/testwait"
)

// TestVAPIDKeyEndpoint: the public GET /genesys/2/chat-push/vapid answers 204 No Content until an
// administrator generates a VAPID key pair, then serves exactly the generated public key
// (never the private one), with CORS for an allowed origin, to a request without any
// credentials, as a widget on a shop's page makes it.
func TestVAPIDKeyEndpoint(t *testing.T) {
	const token = "e2e-admin-token-0123456789"
	const shop = "https://shop.test"
	p := startProcessEnv(t, []string{
		"CHATGATE_ADMIN_TOKEN=" + token,
		"CHATGATE_SECRETS_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	}, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--allowed-origins", shop)

	get := func(query string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, p.url(VAPIDKeyPath+query), nil)
		req.Header.Set("Origin", shop)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	if code, _, body := get(""); code != http.StatusNoContent || body != "" {
		t.Fatalf("before any key: %d %q, want 204", code, body)
	}

	req, _ := http.NewRequest(http.MethodPost, p.url("/admin/push/credentials/webpush/default/generate"),
		strings.NewReader(`{"subject": "mailto:ops@example.com"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("generate: %d %s", resp.StatusCode, raw)
	}
	var gen struct {
		PublicKey string `json:"publicKey"`
	}
	if err := json.Unmarshal(raw, &gen); err != nil || gen.PublicKey == "" {
		t.Fatalf("generate answer %s: %v", raw, err)
	}

	// The credential reaches the registry through the store's watch: poll with a deadline.
	var (
		code int
		hdr  http.Header
		body string
	)
	testwait.Until(t, 10*time.Second, "the generated key served", func() bool {
		code, hdr, body = get("")
		return code == 200
	})
	var got struct{ PublicKey, Provider, PrivateKey string }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.PublicKey != gen.PublicKey || got.Provider != "default" || got.PrivateKey != "" || strings.Contains(body, "rivate") {
		t.Fatalf("served %s, want public key %s only", body, gen.PublicKey)
	}
	if hdr.Get("Access-Control-Allow-Origin") != shop {
		t.Errorf("no CORS for %s: %v", shop, hdr)
	}
	if hdr.Get("Cache-Control") != "no-cache" {
		t.Errorf("Cache-Control %q, want no-cache (keys rotate)", hdr.Get("Cache-Control"))
	}
	// Another configuration name, or the debug variant, is not the default's key.
	for _, q := range []string{"?provider=other", "?debug=true"} {
		if code, _, body := get(q); code != http.StatusNoContent {
			t.Errorf("%s: %d %s, want 204", q, code, body)
		}
	}
}
