package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestCORSOnEveryBrowserEndpoint sends, to the real binary, what a browser sends for a page
// on https://shop.test (in allowed-origins) and on https://evil.test (not): preflights and
// actual requests, on the GMS REST API (create with and without the trailing slash, an
// operation, chat-ntf, chat-push/ack), on CometD (long-polling POST) and on the widget
// script. The allowed origin gets Access-Control-Allow-Origin with credentials, the refused
// one none (and CometD refuses it with 403); the admin API answers no preflight.
func TestCORSOnEveryBrowserEndpoint(t *testing.T) {
	const shop, evil = "https://shop.test", "https://evil.test"
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--allowed-origins", shop)
	do := func(method, path, origin, contentType, body string, hdr ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, p.url(path), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	preflight := func(path, origin string) *http.Response {
		t.Helper()
		return do(http.MethodOptions, path, origin, "", "",
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,x-requested-with")
	}
	allowed := func(what string, resp *http.Response) {
		t.Helper()
		h := resp.Header
		if h.Get("Access-Control-Allow-Origin") != shop || h.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("%s from %s: status %d, CORS headers %v", what, shop, resp.StatusCode, h)
		}
	}
	refused := func(what string, resp *http.Response) {
		t.Helper()
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("%s from %s: Access-Control-Allow-Origin %q", what, evil, v)
		}
	}

	c, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Ann"}})
	creds := url.Values{"secureKey": {c.secureKey}, "userId": {c.userID}, "alias": {c.alias}}
	form := "application/x-www-form-urlencoded"
	browserPaths := []string{
		"/genesys/2/chat/" + restSvc,
		"/genesys/2/chat/" + restSvc + "/",
		"/genesys/2/chat/" + restSvc + "/" + c.chatID + "/refresh",
		"/genesys/2/chat-ntf",
		PushAckPath,
		"/genesys/cometd/handshake",
		"/genesys/cometd",
	}
	for _, path := range browserPaths {
		resp := preflight(path, shop)
		allowed("preflight "+path, resp)
		if resp.StatusCode != http.StatusOK ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "content-type") {
			t.Errorf("preflight %s: %d %v", path, resp.StatusCode, resp.Header)
		}
		refused("preflight "+path, preflight(path, evil))
	}

	// Actual requests: REST create and an operation, from both origins.
	resp := do("POST", "/genesys/2/chat/"+restSvc, shop, form, "nickname=Bob")
	if resp.StatusCode != 200 {
		t.Errorf("create from %s: %d", shop, resp.StatusCode)
	}
	allowed("create", resp)
	refused("create", do("POST", "/genesys/2/chat/"+restSvc, evil, form, "nickname=Eve"))
	allowed("refresh", do("POST", "/genesys/2/chat/"+restSvc+"/"+c.chatID+"/refresh", shop, form, creds.Encode()))
	refused("refresh", do("POST", "/genesys/2/chat/"+restSvc+"/"+c.chatID+"/refresh", evil, form, creds.Encode()))

	// CometD long-polling POST: allowed with CORS headers, refused with 403 and none.
	hs := `[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`
	resp = do("POST", "/genesys/cometd/handshake", shop, "application/json", hs)
	if resp.StatusCode != 200 {
		t.Errorf("CometD handshake from %s: %d", shop, resp.StatusCode)
	}
	allowed("CometD handshake", resp)
	resp = do("POST", "/genesys/cometd/handshake", evil, "application/json", hs)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("CometD handshake from %s: %d, want 403", evil, resp.StatusCode)
	}
	refused("CometD handshake", resp)

	// The widget script, fetched by a page of the shop.
	resp = do("GET", "/widget/chatgate.js", shop, "", "")
	if resp.StatusCode != 200 {
		t.Errorf("widget script: %d", resp.StatusCode)
	}
	allowed("widget script", resp)

	// Not browser-facing: no CORS at all.
	for _, path := range []string{"/workflow/v1/chats", "/admin/push/credentials"} {
		if v := preflight(path, shop).Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("preflight %s answered with Access-Control-Allow-Origin %q", path, v)
		}
	}
	// Non-browser clients (no Origin) see no CORS headers.
	if v := do("POST", "/genesys/2/chat/"+restSvc, "", form, "nickname=Cli").Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("request without Origin got Access-Control-Allow-Origin %q", v)
	}
}
