package pushadmin_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/internal/testwait"
	"github.com/chatgate/chatgate/push"
	"github.com/chatgate/chatgate/push/credstore"
	"github.com/chatgate/chatgate/push/pushtest"
	"github.com/chatgate/chatgate/web/adminauth"
	"github.com/chatgate/chatgate/web/pushadmin"
	"github.com/chatgate/chatgate/web/pushlink"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "admin-token-0123456789"

type env struct {
	t     *testing.T
	srv   *httptest.Server
	apns  *pushtest.APNs
	wp    *pushtest.WebPush
	reg   *push.Registry
	reg2  *push.Registry // a second node: only the KV watch feeds it
	d     *push.Dispatcher
	store *credstore.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	nc, err := natsserver.Start(ctx, natsserver.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close(context.Background()) })
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	store, err := credstore.Open(ctx, nc, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store}
	if e.apns, err = pushtest.StartAPNs("com.example.chat", 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.apns.Close)
	e.wp = pushtest.StartWebPush(0)
	t.Cleanup(e.wp.Close)
	wpClient := pushtest.Client(e.wp.Server)
	t.Cleanup(wpClient.CloseIdleConnections)
	opts := push.RegistryOptions{APNsProductionHost: e.apns.Server.URL, APNsSandboxHost: e.apns.Server.URL, APNsTLS: pushtest.TLSConfig(e.apns.Server),
		HTTPClient: wpClient, WebPushHosts: []string{"127.0.0.1"}}
	e.reg, e.reg2 = push.NewRegistry(opts), push.NewRegistry(opts)
	t.Cleanup(func() { e.reg.Close(); e.reg2.Close() })
	w, err := store.Watch(ctx, e.reg2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	if e.d, err = push.New(push.Config{Resolver: e.reg}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.d.Close(context.Background()) })
	h, err := pushadmin.New(pushadmin.Config{Store: store, Registry: e.reg, Stats: e.d.Stats, Auth: mustAuth(t, adminauth.Options{Token: token, BasicUser: "ops", BasicPassword: "pw-9876543210"})})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/push/", http.StripPrefix("/admin/push", h))
	mux.Handle("GET /genesys/2/chat-push/vapid", pushlink.VAPIDKeyHandler(e.reg))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(func() { e.srv.Close(); http.DefaultClient.CloseIdleConnections() })
	return e
}

func (e *env) do(method, path, auth string, body any) (int, string) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+"/admin/push"+path, rd)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const bearer = "Bearer " + token

func TestAuth(t *testing.T) {
	e := newEnv(t)
	for _, a := range []string{"", "Bearer wrong", "Bearer " + token + "x", "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:nope"))} {
		if st, _ := e.do("GET", "/credentials", a, nil); st != 401 {
			t.Fatalf("auth %q: %d", a, st)
		}
	}
	if st, _ := e.do("GET", "/credentials", "Basic "+base64.StdEncoding.EncodeToString([]byte("ops:pw-9876543210")), nil); st != 200 {
		t.Fatalf("basic: %d", st)
	}
	if st, _ := e.do("GET", "/credentials", bearer, nil); st != 200 {
		t.Fatalf("bearer: %d", st)
	}
}

func TestUploadRotateAndDeleteAPNsKey(t *testing.T) {
	e := newEnv(t)
	upload := map[string]string{"authKeyP8": string(e.apns.KeyP8), "keyId": e.apns.KeyID, "teamId": e.apns.TeamID, "topic": "com.example.chat"}
	st, body := e.do("PUT", "/credentials/apns/default", bearer, upload)
	if st != 200 {
		t.Fatalf("put: %d %s", st, body)
	}
	if strings.Contains(body, "PRIVATE KEY") || !strings.Contains(body, `"fingerprint"`) || !strings.Contains(body, `"environment":"production"`) {
		t.Fatalf("put answer %s", body)
	}
	n := push.Notification{Target: push.Target{Kind: push.KindAPNs, DeviceID: "d1"}, Title: "t", Body: "b"}
	if r, err := e.d.Deliver(t.Context(), n); err != nil || r.Outcome != push.OutcomeDelivered {
		t.Fatalf("push after upload: %+v %v", r, err)
	}
	// The second node got it through the KV watch.
	testwait.Until(t, 10*time.Second, "watch", func() bool { _, err := e.reg2.Resolve(n.Target); return err == nil })

	// Rotate: a new key under a new key id; the fake stops accepting the old one. The very
	// next push must use the new key.
	k2, err := pushtest.StartAPNs("com.example.chat", 1)
	if err != nil {
		t.Fatal(err)
	}
	k2.Close()
	e.apns.AddKey("ROTATED001", &k2.Key.PublicKey)
	e.apns.AddKey(e.apns.KeyID, nil)
	upload["authKeyP8"], upload["keyId"] = string(k2.KeyP8), "ROTATED001"
	if st, body := e.do("PUT", "/credentials/apns/default", bearer, upload); st != 200 {
		t.Fatalf("rotate: %d %s", st, body)
	}
	if r, err := e.d.Deliver(t.Context(), n); err != nil || r.Outcome != push.OutcomeDelivered {
		t.Fatalf("push after rotation: %+v %v", r, err)
	}

	st, body = e.do("GET", "/credentials", bearer, nil)
	if st != 200 || !strings.Contains(body, "ROTATED001") || strings.Contains(body, "PRIVATE KEY") || strings.Contains(body, "authKeyP8") {
		t.Fatalf("list: %d %s", st, body)
	}
	st, body = e.do("GET", "/stats", bearer, nil)
	if st != 200 || !strings.Contains(body, `"apns":{"enqueued":2,"sent":2`) {
		t.Fatalf("stats: %d %s", st, body)
	}
	if st, _ := e.do("DELETE", "/credentials/apns/default", bearer, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st, _ := e.do("DELETE", "/credentials/apns/default", bearer, nil); st != 404 {
		t.Fatalf("second delete: %d", st)
	}
	if r, _ := e.d.Deliver(t.Context(), n); r.Outcome != push.OutcomeFailed || r.Reason != "no_provider" {
		t.Fatalf("push after delete: %+v", r)
	}
	testwait.Until(t, 10*time.Second, "watch delete", func() bool { _, err := e.reg2.Resolve(n.Target); return err != nil })
}

func TestValidationMessages(t *testing.T) {
	e := newEnv(t)
	expired, err := os.ReadFile("../../push/testdata/apns-expired.p12")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		body any
		want string
	}{
		{"/credentials/apns/default", map[string]string{"authKeyP8": "nope", "keyId": "ABC123DEFG", "teamId": "TEAM123456", "topic": "x"}, "not PEM"},
		{"/credentials/apns/default?debug=true", map[string]string{"certificateP12": base64.StdEncoding.EncodeToString(expired), "certificatePassword": "secret", "topic": "x"}, "expired on 2021-01-01"},
		{"/credentials/apns/default", map[string]string{"certificateP12": "%%%", "topic": "x"}, "standard base64"},
		{"/credentials/apns/default", map[string]string{"bogus": "1"}, "unknown field"},
		{"/credentials/fcm/default", map[string]any{"serviceAccount": map[string]string{"type": "service_account"}}, "client_email"},
		{"/credentials/webpush/default", map[string]string{"publicKey": "AAAA", "privateKey": "BBBB", "subject": "a@b.c"}, "privateKey must be 32 bytes"},
		{"/credentials/customhttp/default", map[string]string{"url": "ftp://x"}, "absolute http(s) URL"},
		{"/credentials/apns/bad%20name", map[string]string{}, "credential name"},
		{"/credentials/apns/default?debug=maybe", map[string]string{}, "debug="},
	}
	for _, c := range cases {
		st, body := e.do("PUT", c.path, bearer, c.body)
		if st != 400 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s (want 400 mentioning %q)", c.path, st, body, c.want)
		}
	}
	if st, body := e.do("GET", "/credentials", bearer, nil); st != 200 || body != "{\"credentials\":[]}\n" {
		t.Fatalf("nothing should be stored: %s", body)
	}
}

func TestGenerateVAPIDAndFCMUpload(t *testing.T) {
	e := newEnv(t)
	st, body := e.do("POST", "/credentials/webpush/widget/generate?debug=false", bearer, map[string]string{"subject": "mailto:mailto:ops@example.com"})
	if st != 200 {
		t.Fatalf("generate: %d %s", st, body)
	}
	var info push.CredentialInfo
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatal(err)
	}
	if pk, err := base64.RawURLEncoding.DecodeString(info.PublicKey); err != nil || len(pk) != 65 || info.Subject != "mailto:ops@example.com" || strings.Contains(body, "privateKey") {
		t.Fatalf("generated: %s", body)
	}
	stored, err := e.store.Get(t.Context(), push.CredentialKey{Kind: push.KindWebPush, Name: "widget"})
	if err != nil || stored.WebPush.PublicKey != info.PublicKey {
		t.Fatalf("stored %+v %v", stored, err)
	}

	fcm, err := pushtest.StartFCM("proj-1", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer fcm.Close()
	st, body = e.do("PUT", "/credentials/fcm/android?debug=true", bearer, map[string]any{"serviceAccount": json.RawMessage(fcm.ServiceAccountJSON())})
	if st != 200 || !strings.Contains(body, `"projectId":"proj-1"`) || strings.Contains(body, "PRIVATE KEY") {
		t.Fatalf("fcm: %d %s", st, body)
	}
	st, body = e.do("GET", "/credentials/fcm/android?debug=true", bearer, nil)
	if st != 200 || !strings.Contains(body, fcm.Email) {
		t.Fatalf("get fcm: %d %s", st, body)
	}
}

func mustAuth(t *testing.T, o adminauth.Options) *adminauth.Credentials {
	t.Helper()
	a, err := adminauth.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Every error of the API, the authentication's 401 included, has the shared shape
// {"error","code"} (web/apijson) with the code that matches the status.
func TestErrorsHaveTheSharedShape(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		method, path, auth string
		body               any
		status             int
		code               string
	}{
		{"GET", "/credentials", "Bearer wrong", nil, 401, "unauthorized"},
		{"DELETE", "/credentials/apns/default", bearer, nil, 404, "not_found"},
		{"PUT", "/credentials/apns/default", bearer, map[string]string{"bogus": "1"}, 400, "bad_request"},
		{"POST", "/credentials", bearer, nil, 405, "method_not_allowed"},
		{"GET", "/credentials/apns", bearer, nil, 404, "not_found"},
		{"GET", "/nothing-here", bearer, nil, 404, "not_found"},
	} {
		st, body := e.do(c.method, c.path, c.auth, c.body)
		var got map[string]string
		if err := json.Unmarshal([]byte(body), &got); err != nil || st != c.status || got["code"] != c.code || got["error"] == "" || len(got) != 2 {
			t.Errorf("%s %s: %d %s (want %d with code %q)", c.method, c.path, st, body, c.status, c.code)
		}
	}
}

// TestMethodNotAllowedListsAllow: the push admin API routes with web/apiroute like the other
// JSON APIs, so a wrong method names the right ones in Allow (and HEAD works where GET does).
func TestMethodNotAllowedListsAllow(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ method, path, allow string }{
		{"POST", "/credentials", "GET"},
		{"POST", "/credentials/webpush/main", "GET, PUT, DELETE"},
		{"GET", "/credentials/webpush/main/generate", "POST"},
	} {
		req, _ := http.NewRequest(c.method, e.srv.URL+"/admin/push"+c.path, nil)
		req.Header.Set("Authorization", bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), c.allow)
		}
	}
	req, _ := http.NewRequest("HEAD", e.srv.URL+"/admin/push/stats", nil)
	req.Header.Set("Authorization", bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("HEAD /stats = %d", resp.StatusCode)
	}
}
