package pushadmin_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/chatgate/chatgate/internal/testwait"
	"github.com/chatgate/chatgate/push"
	"github.com/chatgate/chatgate/web/adminauth"
	"github.com/chatgate/chatgate/web/pushadmin"
)

type generated struct {
	push.CredentialInfo
	Rotated             bool   `json:"rotated"`
	PreviousFingerprint string `json:"previousFingerprint"`
}

func (e *env) generate(path string, body any) generated {
	e.t.Helper()
	st, b := e.do("POST", path, bearer, body)
	if st != 200 {
		e.t.Fatalf("generate: %d %s", st, b)
	}
	if strings.Contains(b, "privateKey") {
		e.t.Fatalf("the answer shows the private key: %s", b)
	}
	var g generated
	if err := json.Unmarshal([]byte(b), &g); err != nil {
		e.t.Fatal(err)
	}
	return g
}

// servedKey is what a browser reads from the public endpoint before subscribing.
func (e *env) servedKey() string {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + "/genesys/2/chat-push/vapid")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct{ PublicKey string }
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return v.PublicKey
}

func webPushTo(endpoint, p256dh, auth string) push.Notification {
	return push.Notification{Target: push.Target{Kind: push.KindWebPush, WebPush: &push.WebPushSubscription{Endpoint: endpoint, P256dh: p256dh, Auth: auth}}, Title: "Ann", Body: "hello"}
}

func fp(b64 string) string {
	raw, _ := base64.RawURLEncoding.DecodeString(b64)
	h := sha256.Sum256(raw)
	return hex.EncodeToString(h[:])
}

// Rotation: generating again for the same name replaces the key pair; the very next push
// is signed with the new key (the fake verifies the JWT signature with the key of the
// subscription), the public endpoint serves the new key, the second node follows through
// the KV watch, and a subscription a browser made with the old key is refused by the push
// service, as real ones do: that browser has to subscribe again.
func TestRotateVAPID(t *testing.T) {
	e := newEnv(t)
	g1 := e.generate("/credentials/webpush/default/generate", map[string]string{"subject": "ops@example.com"})
	if g1.Rotated || g1.PreviousFingerprint != "" || g1.Fingerprint != fp(g1.PublicKey) || g1.FingerprintOf != "VAPID public key" {
		t.Fatalf("first generate: %+v", g1)
	}
	if got := e.servedKey(); got != g1.PublicKey {
		t.Fatalf("endpoint serves %q, want %q", got, g1.PublicKey)
	}
	_, ep1, p1, a1 := e.wp.SubscribeWithKey(g1.PublicKey)
	if r, err := e.d.Deliver(t.Context(), webPushTo(ep1, p1, a1)); err != nil || r.Outcome != push.OutcomeDelivered {
		t.Fatalf("push with the first key: %+v %v", r, err)
	}

	// Rotate with an empty subject: the subject is kept.
	g2 := e.generate("/credentials/webpush/default/generate", map[string]string{"subject": ""})
	if !g2.Rotated || g2.PreviousFingerprint != g1.Fingerprint || g2.PublicKey == g1.PublicKey || g2.Subject != "mailto:ops@example.com" {
		t.Fatalf("rotation: %+v (before %+v)", g2, g1)
	}
	if got := e.servedKey(); got != g2.PublicKey {
		t.Fatalf("after rotation the endpoint serves %q, want the new %q", got, g2.PublicKey)
	}
	// The old subscription: the push service refuses the new key's signature.
	if r, _ := e.d.Deliver(t.Context(), webPushTo(ep1, p1, a1)); r.Outcome != push.OutcomeFailed || r.Reason != "vapid_rejected" {
		t.Fatalf("push to a subscription of the old key: %+v", r)
	}
	// A browser subscribing again gets the new key and the next push is signed with it.
	_, ep2, p2, a2 := e.wp.SubscribeWithKey(e.servedKey())
	if r, err := e.d.Deliver(t.Context(), webPushTo(ep2, p2, a2)); err != nil || r.Outcome != push.OutcomeDelivered {
		t.Fatalf("push after rotation: %+v %v", r, err)
	}
	msgs := e.wp.Messages()
	if len(msgs) != 2 || msgs[0].VAPIDKey != g1.PublicKey || msgs[1].VAPIDKey != g2.PublicKey {
		t.Fatalf("keys that signed the accepted pushes: %+v", msgs)
	}
	// The second node took the rotation from the KV watch.
	testwait.Until(t, 10*time.Second, "the second node's key", func() bool {
		for _, i := range e.reg2.Infos() {
			if i.Key.Kind == push.KindWebPush && i.PublicKey == g2.PublicKey {
				return true
			}
		}
		return false
	})
	st, body := e.do("GET", "/stats", bearer, nil)
	if st != 200 || !strings.Contains(body, `"webpush":{"enqueued":3,"sent":2`) || !strings.Contains(body, `"failed":{"vapid_rejected":1}`) {
		t.Fatalf("stats: %d %s", st, body)
	}
	// Generating for a name that has no key is not a rotation; an explicit subject wins.
	g3 := e.generate("/credentials/webpush/default/generate?debug=true", map[string]string{"subject": "https://chat.example.com"})
	if g3.Rotated || g3.Subject != "https://chat.example.com" {
		t.Fatalf("debug variant: %+v", g3)
	}
}

func testP12(t *testing.T, notAfter time.Time, password string) ([]byte, *x509.Certificate) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Apple Push Services: com.example.chat"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	b, err := pkcs12.Modern2023.Encode(k, cert, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	return b, cert
}

// An upload of a .p12 that expires in 10 days is stored with its fingerprint (SHA-256 of
// the certificate), expiry and a warning; the list shows the same; a wrong password is
// refused with a message that says so.
func TestUploadP12ShowsFingerprintExpiryAndWarning(t *testing.T) {
	e := newEnv(t)
	notAfter := time.Now().Add(10*24*time.Hour + time.Hour).UTC().Truncate(time.Second)
	b, cert := testP12(t, notAfter, "pass-1234")
	body := map[string]string{"certificateP12": base64.StdEncoding.EncodeToString(b), "certificatePassword": "pass-1234", "topic": "com.example.chat"}

	bad := map[string]string{"certificateP12": body["certificateP12"], "certificatePassword": "nope-nope", "topic": "com.example.chat"}
	if st, got := e.do("PUT", "/credentials/apns/cert", bearer, bad); st != 400 || !strings.Contains(got, "apns.certificatePassword is wrong for this .p12") || strings.Contains(got, "nope-nope") {
		t.Fatalf("wrong password: %d %s", st, got)
	}
	st, got := e.do("PUT", "/credentials/apns/cert", bearer, body)
	if st != 200 {
		t.Fatalf("put: %d %s", st, got)
	}
	sum := sha256.Sum256(cert.Raw)
	for _, answer := range []string{got, e.list()} {
		for _, want := range []string{`"fingerprint":"` + hex.EncodeToString(sum[:]) + `"`, `"fingerprintOf":"certificate"`,
			`"notAfter":"` + notAfter.Format(time.RFC3339) + `"`, `"warning":"the certificate expires in 10 days, on ` + notAfter.Format(time.RFC3339) + `"`} {
			if !strings.Contains(answer, want) {
				t.Errorf("answer %s lacks %s", answer, want)
			}
		}
		if strings.Contains(answer, "pass-1234") || strings.Contains(answer, body["certificateP12"][:40]) {
			t.Fatalf("answer shows secret material: %s", answer)
		}
	}

	// A .p8 has no expiry, and says so.
	st, got = e.do("PUT", "/credentials/apns/default", bearer, map[string]string{"authKeyP8": string(e.apns.KeyP8), "keyId": e.apns.KeyID, "teamId": e.apns.TeamID, "topic": "com.example.chat"})
	if st != 200 || !strings.Contains(got, `"expiryNote":"no expiry: a .p8 key`) || strings.Contains(got, "notAfter") || strings.Contains(got, "warning") {
		t.Fatalf(".p8: %d %s", st, got)
	}
}

func (e *env) list() string {
	e.t.Helper()
	st, b := e.do("GET", "/credentials", bearer, nil)
	if st != 200 {
		e.t.Fatalf("list: %d %s", st, b)
	}
	return b
}

// GET /status says whether credentials can be managed; without secrets-key the Off handler
// says why, refuses everything else with 503, and is behind the admin credentials too.
func TestStatusAndOff(t *testing.T) {
	e := newEnv(t)
	if st, b := e.do("GET", "/status", bearer, nil); st != 200 || b != "{\"enabled\":true}\n" {
		t.Fatalf("status: %d %s", st, b)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/push/", http.StripPrefix("/admin/push", pushadmin.Off(mustAuth(t, adminauth.Options{Token: token}), "secrets-key is not set")))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(method, path, auth string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+"/admin/push"+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, b := get("GET", "/status", bearer); st != 200 || b != "{\"enabled\":false,\"reason\":\"secrets-key is not set\"}\n" {
		t.Fatalf("off status: %d %s", st, b)
	}
	for _, c := range [][2]string{{"GET", "/credentials"}, {"POST", "/credentials/webpush/default/generate"}, {"POST", "/status"}} {
		if st, b := get(c[0], c[1], bearer); st != 503 || !strings.Contains(b, `"code":"unavailable"`) || !strings.Contains(b, "secrets-key is not set") {
			t.Errorf("%s %s: %d %s", c[0], c[1], st, b)
		}
	}
	if st, _ := get("GET", "/status", ""); st != 401 {
		t.Fatalf("off without credentials: %d", st)
	}
}
