package push_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/push"
	"github.com/chatgate/chatgate/push/pushtest"
)

// countingTransport counts the requests that reach the network through it.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, ":send") {
		c.n.Add(1)
	}
	return c.base.RoundTrip(r)
}

// The SDK retries 503 and network errors inside Send (at once, then after 1, 2 and 4 s,
// Retry-After honoured up to 2 minutes). chatgate makes one request per Send and leaves
// the schedule to the dispatcher: a 503 with Retry-After 30 is one request, then the
// dispatcher's timer of exactly 30 s on the manual clock, then the second request.
func TestFCMSendsOnceWhereTheSDKWouldRetry(t *testing.T) {
	e := newEnv(t, nil)
	e.fcm.Script("busy", pushtest.Reply{Status: 503, Reason: "UNAVAILABLE", RetryAfter: "30"})
	if _, err := e.d.Enqueue(agentMessage(push.Target{Kind: push.KindFCM, DeviceID: "busy"})); err != nil {
		t.Fatal(err)
	}
	if d := e.waitTimer(); d != 30*time.Second {
		t.Fatalf("retry in %v, want the 30s Retry-After", d)
	}
	if n := e.fcm.SendRequests(); n != 1 {
		t.Fatalf("%d requests before the dispatcher's retry, want 1", n)
	}
	e.clock.Advance(30 * time.Second)
	if r := e.result(); r.Outcome != push.OutcomeDelivered || r.Attempts != 2 {
		t.Fatalf("after the retry: %+v", r)
	}
	if n := e.fcm.SendRequests(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}

	// A 503 without Retry-After, which the SDK would resend at once: one request, a
	// transient failure named after FCM's errorCode.
	p, err := e.reg.Resolve(push.Target{Kind: push.KindFCM})
	if err != nil {
		t.Fatal(err)
	}
	e.fcm.Script("busy2", pushtest.Reply{Status: 503, Reason: "UNAVAILABLE"})
	n := agentMessage(push.Target{Kind: push.KindFCM, DeviceID: "busy2"})
	var se *push.SendError
	if err := p.Send(t.Context(), &n); !errors.As(err, &se) || se.Class != push.ClassTransient || se.Reason != "UNAVAILABLE" || se.Status != 503 {
		t.Fatalf("503: %v", err)
	}
	if n := e.fcm.SendRequests(); n != 3 {
		t.Fatalf("%d requests after the second 503, want 3", n)
	}
}

// A refused connection, which the SDK would retry four times over 7 s, is one attempt and
// a transient "network" failure.
func TestFCMNetworkErrorIsOneAttempt(t *testing.T) {
	fake, err := pushtest.StartFCM("chat-project", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + l.Addr().String()
	l.Close() // nothing listens there any more: connection refused

	base := pushtest.Client(fake.Server)
	defer base.CloseIdleConnections()
	ct := &countingTransport{base: base.Transport}
	reg := push.NewRegistry(push.RegistryOptions{HTTPClient: &http.Client{Transport: ct, Timeout: 10 * time.Second}, FCMEndpoint: closed})
	defer reg.Close()
	if _, err := reg.Apply(push.Credential{Key: key(push.KindFCM, false), FCM: &push.FCMCredential{ServiceAccountJSON: fake.ServiceAccountJSON()}}); err != nil {
		t.Fatal(err)
	}
	p, err := reg.Resolve(push.Target{Kind: push.KindFCM})
	if err != nil {
		t.Fatal(err)
	}
	n := agentMessage(push.Target{Kind: push.KindFCM, DeviceID: "t"})
	var se *push.SendError
	if err := p.Send(t.Context(), &n); !errors.As(err, &se) || se.Class != push.ClassTransient || se.Reason != "network" {
		t.Fatalf("refused connection: %v", err)
	}
	if got := ct.n.Load(); got != 1 {
		t.Fatalf("%d requests for one Send, want 1", got)
	}
	if fake.TokenRequests() != 1 {
		t.Fatalf("token requests %d, want 1 (the token comes from the OAuth fake)", fake.TokenRequests())
	}
}

// The silent ping and a normal-priority push on the wire: no notification object, APNs
// priority 5 (Apple refuses background pushes at 10), android priority "normal", the TTL
// in whole seconds, the collapse id hashed for APNs.
func TestFCMSilentAndNormalPriorityPayload(t *testing.T) {
	e := newEnv(t, nil)
	ping := push.Notification{Target: push.Target{Kind: push.KindFCM, DeviceID: "p"}, Data: map[string]string{"event": "Ping"}, TTL: 1500 * time.Millisecond}
	if r, err := e.deliver(t.Context(), ping); err != nil || r.Outcome != push.OutcomeDelivered {
		t.Fatalf("ping: %+v %v", r, err)
	}
	normal := agentMessage(push.Target{Kind: push.KindFCM, DeviceID: "n"})
	normal.Priority = push.PriorityNormal
	if r, err := e.deliver(t.Context(), normal); err != nil || r.Outcome != push.OutcomeDelivered {
		t.Fatalf("normal: %+v %v", r, err)
	}
	ms := e.fcm.Messages()
	if len(ms) != 2 {
		t.Fatalf("%d messages", len(ms))
	}
	if m := ms[0]; m.Notification != nil || m.APNs.Headers["apns-priority"] != "5" || m.Android.Priority != "high" || m.Android.TTL != "1s" || m.Data["event"] != "Ping" {
		t.Fatalf("ping on the wire: %+v", m)
	}
	if m := ms[1]; m.Notification == nil || m.APNs.Headers["apns-priority"] != "5" || m.Android.Priority != "normal" ||
		m.Android.TTL != "300s" || m.APNs.Headers["apns-collapse-id"] != "chat-c1" {
		t.Fatalf("normal priority on the wire: %+v", m)
	}
}

// memoryFCM answers the OAuth token request and every send with a fixed answer, in
// memory, so the fuzz target runs the real provider (SDK, oauth2 transport, classification)
// at fuzzing speed.
type memoryFCM struct {
	status int
	body   []byte
	sends  atomic.Int64
}

func (m *memoryFCM) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	answer := func(status int, body []byte) *http.Response {
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r}
	}
	if r.URL.Path == "/token" {
		return answer(200, []byte(`{"access_token":"ya29.fuzz","expires_in":3600,"token_type":"Bearer"}`)), nil
	}
	m.sends.Add(1)
	return answer(m.status, m.body), nil
}

func serviceAccountFor(t testing.TB, tokenURI string) []byte {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "fuzz", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "fuzz@fuzz.iam.gserviceaccount.com", "token_uri": tokenURI,
	})
	return b
}

// FuzzClassifyFCMError: whatever FCM answers (any status, any body), a Send is exactly one
// request, succeeds only on a 2xx that names the message, and fails with a classified
// *SendError that has a reason; only a 4xx can declare the device dead.
func FuzzClassifyFCMError(f *testing.F) {
	f.Add(404, []byte(`{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`))
	f.Add(400, []byte(`{"error":{"code":400,"status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token"}]}]}}`))
	f.Add(503, []byte(`<html>`))
	f.Add(200, []byte(`{"name":"projects/fuzz/messages/1"}`))
	mem := &memoryFCM{}
	reg := push.NewRegistry(push.RegistryOptions{HTTPClient: &http.Client{Transport: mem}, FCMEndpoint: "https://fcm.test"})
	defer reg.Close()
	if _, err := reg.Apply(push.Credential{Key: key(push.KindFCM, false), FCM: &push.FCMCredential{ServiceAccountJSON: serviceAccountFor(f, "https://oauth.test/token")}}); err != nil {
		f.Fatal(err)
	}
	p, err := reg.Resolve(push.Target{Kind: push.KindFCM})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 200 || status > 599 { // what a server can answer a request with
			status = 200 + (status%400+400)%400
		}
		mem.status, mem.body = status, body
		before := mem.sends.Load()
		n := push.Notification{Target: push.Target{Kind: push.KindFCM, DeviceID: "tok"}, Title: "t", Body: "b"}
		err := p.Send(t.Context(), &n)
		if got := mem.sends.Load() - before; got != 1 {
			t.Fatalf("%d requests for one Send of %d %q", got, status, body)
		}
		if err == nil {
			if status >= 300 {
				t.Fatalf("success for %d %q", status, body)
			}
			return
		}
		var se *push.SendError
		if !errors.As(err, &se) || se.Reason == "" {
			t.Fatalf("unclassified %v for %d %q", err, status, body)
		}
		if se.Class == push.ClassDead && (status < 400 || status >= 500) {
			t.Fatalf("dead for %d %q", status, body)
		}
	})
}
