package push_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatgate/chatgate/push"
	"github.com/chatgate/chatgate/push/pushtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is every fake provider, a registry pointed at them with one credential each, and a
// dispatcher on a manual clock.
type env struct {
	t       *testing.T
	apns    *pushtest.APNs
	fcm     *pushtest.FCM
	wp      *pushtest.WebPush
	recv    *pushtest.HTTPReceiver
	client  *http.Client
	reg     *push.Registry
	clock   *pushtest.ManualClock
	d       *push.Dispatcher
	vapid   push.VAPIDCredential
	results chan push.Result
}

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, mod func(*push.Config)) *env {
	t.Helper()
	e := &env{t: t, clock: pushtest.NewManualClock(t0), results: make(chan push.Result, 1000)}
	var err error
	if e.apns, err = pushtest.StartAPNs("com.example.chat", 0); err != nil {
		t.Fatal(err)
	}
	if e.fcm, err = pushtest.StartFCM("chat-project", 0); err != nil {
		t.Fatal(err)
	}
	e.wp = pushtest.StartWebPush(0)
	e.recv = pushtest.StartHTTPReceiver(0)
	e.client = pushtest.Client(e.fcm.Server, e.wp.Server, e.recv.Server)
	e.reg = push.NewRegistry(push.RegistryOptions{
		HTTPClient:         e.client,
		APNsProductionHost: e.apns.Server.URL, APNsSandboxHost: e.apns.Server.URL,
		APNsTLS:      pushtest.TLSConfig(e.apns.Server),
		FCMEndpoint:  e.fcm.Server.URL,
		WebPushHosts: []string{"127.0.0.1"},
	})
	if e.vapid, err = push.GenerateVAPID("mailto:ops@example.com"); err != nil {
		t.Fatal(err)
	}
	e.wp.VAPIDPublicKey = e.vapid.PublicKey
	for _, c := range []push.Credential{
		{Key: key(push.KindAPNs, false), APNs: &push.APNsCredential{AuthKeyP8: e.apns.KeyP8, KeyID: e.apns.KeyID, TeamID: e.apns.TeamID, Topic: "com.example.chat"}},
		{Key: key(push.KindFCM, false), FCM: &push.FCMCredential{ServiceAccountJSON: e.fcm.ServiceAccountJSON()}},
		{Key: key(push.KindWebPush, false), WebPush: &e.vapid},
		{Key: key(push.KindHTTP, false), HTTP: &push.HTTPCredential{URL: e.recv.Server.URL + "/notify", Authorization: "Bearer recv-secret", Message: "dummy message"}},
	} {
		if _, err := e.reg.Apply(c); err != nil {
			t.Fatalf("apply %s: %v", c.Key, err)
		}
	}
	cfg := push.Config{Resolver: e.reg, Clock: e.clock, OnResult: func(r push.Result) { e.results <- r },
		Jitter:      func(max time.Duration) time.Duration { return max - 1 }, // deterministic: upper bound
		Concurrency: map[push.Kind]int{push.KindAPNs: 4, push.KindFCM: 4, push.KindWebPush: 4, push.KindHTTP: 4}}
	if mod != nil {
		mod(&cfg)
	}
	if e.d, err = push.New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.d.Close(ctx); err != nil {
		e.t.Error(err)
	}
	_ = e.reg.Close()
	e.client.CloseIdleConnections()
	e.apns.Close()
	e.fcm.Close()
	e.wp.Close()
	e.recv.Close()
}

func key(k push.Kind, debug bool) push.CredentialKey {
	return push.CredentialKey{Kind: k, Name: push.DefaultProviderName, Debug: debug}
}

// result waits for the next reported result.
func (e *env) result() push.Result {
	e.t.Helper()
	select {
	case r := <-e.results:
		return r
	case <-time.After(10 * time.Second):
		e.t.Fatal("no push result within 10s")
	}
	return push.Result{}
}

// waitTimer polls until the dispatcher has armed a timer (a retry or resend) and returns
// the soonest delay.
func (e *env) waitTimer() time.Duration {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if p := e.clock.Pending(); len(p) > 0 {
			return p[0]
		}
		time.Sleep(time.Millisecond)
	}
	e.t.Fatal("no timer armed within 10s")
	return 0
}

// deliver sends n and waits for its result, also consuming the copy reported to OnResult,
// so e.result() sees only later notifications.
func (e *env) deliver(ctx context.Context, n push.Notification) (push.Result, error) {
	r, err := e.d.Deliver(ctx, n)
	if err == nil {
		if got := e.result(); got.ID != r.ID {
			e.t.Fatalf("OnResult reported %s, Deliver %s", got.ID, r.ID)
		}
	}
	return r, err
}
