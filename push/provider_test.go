package push_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/testwait"
	"github.com/chatgate/chatgate/push"
	"github.com/chatgate/chatgate/push/pushtest"
)

func agentMessage(t push.Target) push.Notification {
	return push.Notification{Target: t, Title: "Anna (agent)", Body: "Hello, how can I help?",
		Data: map[string]string{"event": "Message", "chatId": "c1", "userId": "u1"}, Collapse: "chat-c1", TTL: 300 * time.Second}
}

func TestAPNsTokenAuthDeliversReadablePayload(t *testing.T) {
	e := newEnv(t, nil)
	r, err := e.deliver(t.Context(), agentMessage(push.Target{Kind: push.KindAPNs, DeviceID: "a1b2c3"}))
	if err != nil || r.Outcome != push.OutcomeDelivered {
		t.Fatalf("deliver: %+v %v", r, err)
	}
	got := e.apns.Requests()
	if len(got) != 1 {
		t.Fatalf("fake got %d requests", len(got))
	}
	q := got[0]
	aps := q.Payload["aps"].(map[string]any)
	alert := aps["alert"].(map[string]any)
	if q.DeviceToken != "a1b2c3" || q.Topic != "com.example.chat" || q.PushType != "alert" || q.Priority != "10" ||
		q.CollapseID != "chat-c1" || alert["title"] != "Anna (agent)" || alert["body"] != "Hello, how can I help?" ||
		q.Payload["chatId"] != "c1" || q.Payload["event"] != "Message" {
		t.Fatalf("unexpected APNs request: %+v", q)
	}
	exp, _ := strconv.ParseInt(q.Expiration, 10, 64)
	if d := time.Until(time.Unix(exp, 0)); d < 290*time.Second || d > 310*time.Second {
		t.Fatalf("apns-expiration %s is not now+TTL", q.Expiration)
	}
}

func TestAPNsSilentPingIsBackground(t *testing.T) {
	e := newEnv(t, nil)
	r, err := e.deliver(t.Context(), push.Notification{Target: push.Target{Kind: push.KindAPNs, DeviceID: "tok"}, Data: map[string]string{"event": "Ping"}})
	if err != nil || r.Outcome != push.OutcomeDelivered {
		t.Fatalf("deliver: %+v %v", r, err)
	}
	q := e.apns.Requests()[0]
	if q.PushType != "background" || q.Priority != "5" || q.Payload["aps"].(map[string]any)["content-available"] != float64(1) {
		t.Fatalf("ping not a background push: %+v", q)
	}
}

func TestAPNsErrorsMapToOutcomes(t *testing.T) {
	cases := []struct {
		reply   pushtest.Reply
		outcome push.Outcome
		retried bool
	}{
		{pushtest.Reply{Status: 410, Reason: "Unregistered"}, push.OutcomeDead, false},
		{pushtest.Reply{Status: 400, Reason: "BadDeviceToken"}, push.OutcomeDead, false},
		{pushtest.Reply{Status: 400, Reason: "DeviceTokenNotForTopic"}, push.OutcomeDead, false},
		{pushtest.Reply{Status: 413, Reason: "PayloadTooLarge"}, push.OutcomeFailed, false},
		{pushtest.Reply{Status: 403, Reason: "InvalidProviderToken"}, push.OutcomeFailed, false},
		{pushtest.Reply{Status: 429, Reason: "TooManyRequests"}, push.OutcomeDelivered, true},
		{pushtest.Reply{Status: 500, Reason: "InternalServerError"}, push.OutcomeDelivered, true},
		{pushtest.Reply{Status: 503, Reason: "ServiceUnavailable"}, push.OutcomeDelivered, true},
	}
	e := newEnv(t, nil)
	for _, c := range cases {
		t.Run(c.reply.Reason, func(t *testing.T) {
			tok := "tok-" + c.reply.Reason
			e.apns.Script(tok, c.reply)
			if _, err := e.d.Enqueue(agentMessage(push.Target{Kind: push.KindAPNs, DeviceID: tok})); err != nil {
				t.Fatal(err)
			}
			if c.retried {
				// First retry after BaseBackoff (1 s, jitter at its upper bound).
				if d := e.waitTimer(); d != time.Second {
					t.Fatalf("retry in %v, want 1s", d)
				}
				e.clock.Advance(time.Second)
			}
			r := e.result()
			if r.Outcome != c.outcome {
				t.Fatalf("outcome %s (%s), want %s", r.Outcome, r.Reason, c.outcome)
			}
			if c.outcome == push.OutcomeDead && !errors.Is(r.Err, push.ErrDead) {
				t.Fatalf("dead result error %v is not ErrDead", r.Err)
			}
			if c.outcome != push.OutcomeDelivered && r.Reason != c.reply.Reason {
				t.Fatalf("reason %q, want %q", r.Reason, c.reply.Reason)
			}
		})
	}
	s := e.d.Stats()[push.KindAPNs]
	if s.Failed["Unregistered"] != 1 || s.Dead != 3 || s.Retried != 3 || s.Sent != 3 {
		t.Fatalf("stats: %+v", s)
	}
}

func TestAPNsCertificateAuth(t *testing.T) {
	caPEM, err := os.ReadFile("testdata/apns-ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	p12, err := os.ReadFile("testdata/apns-client.p12")
	if err != nil {
		t.Fatal(err)
	}
	ca := parseCert(t, caPEM)
	fake := pushtest.StartAPNsCert("com.example.chat", ca)
	defer fake.Close()
	reg := push.NewRegistry(push.RegistryOptions{APNsSandboxHost: fake.Server.URL, APNsTLS: pushtest.TLSConfig(fake.Server)})
	defer reg.Close()
	info, err := reg.Apply(push.Credential{Key: key(push.KindAPNs, true), APNs: &push.APNsCredential{CertificateP12: p12, CertificatePassword: "secret", Topic: "com.example.chat"}})
	if err != nil {
		t.Fatal(err)
	}
	if info.Environment != "sandbox" || info.NotAfter.Before(time.Now()) || info.Fingerprint == "" {
		t.Fatalf("info %+v", info)
	}
	p, err := reg.Resolve(push.Target{Kind: push.KindAPNs, Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	n := agentMessage(push.Target{Kind: push.KindAPNs, Debug: true, DeviceID: "dev1"})
	n.TTL = time.Minute
	if err := p.Send(t.Context(), &n); err != nil {
		t.Fatal(err)
	}
	if fake.Count() != 1 {
		t.Fatalf("fake count %d", fake.Count())
	}
	// The production variant is not configured: no fallback to the sandbox credential.
	if _, err := reg.Resolve(push.Target{Kind: push.KindAPNs}); !errors.Is(err, push.ErrNoProvider) {
		t.Fatalf("production resolve: %v", err)
	}
}

func TestAPNsKeyRotationUsedByNextPush(t *testing.T) {
	e := newEnv(t, nil)
	if r, _ := e.deliver(t.Context(), agentMessage(push.Target{Kind: push.KindAPNs, DeviceID: "x"})); r.Outcome != push.OutcomeDelivered {
		t.Fatalf("first: %+v", r)
	}
	// A second fake key: the fake accepts it under a new kid; the old kid is kept valid so
	// only the kid in the JWT header proves which key signed.
	k2, err := pushtest.StartAPNs("com.example.chat", 0) // only for a fresh .p8
	if err != nil {
		t.Fatal(err)
	}
	k2.Close()
	e.apns.AddKey("NEWKEY0001", &k2.Key.PublicKey)
	if _, err := e.reg.Apply(push.Credential{Key: key(push.KindAPNs, false), APNs: &push.APNsCredential{AuthKeyP8: k2.KeyP8, KeyID: "NEWKEY0001", TeamID: e.apns.TeamID, Topic: "com.example.chat"}}); err != nil {
		t.Fatal(err)
	}
	// Now revoke the old key at the fake: only the rotated credential can still deliver.
	e.apns.AddKey(e.apns.KeyID, nil)
	if r, _ := e.deliver(t.Context(), agentMessage(push.Target{Kind: push.KindAPNs, DeviceID: "x"})); r.Outcome != push.OutcomeDelivered {
		t.Fatalf("after rotation: %+v", r)
	}
}

func TestFCMDeliversWithServiceAccount(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 3 {
		r, err := e.deliver(t.Context(), agentMessage(push.Target{Kind: push.KindFCM, DeviceID: "fcm-" + strconv.Itoa(i)}))
		if err != nil || r.Outcome != push.OutcomeDelivered {
			t.Fatalf("deliver: %+v %v", r, err)
		}
	}
	ms := e.fcm.Messages()
	if len(ms) != 3 {
		t.Fatalf("got %d messages", len(ms))
	}
	m := ms[0]
	if m.Token != "fcm-0" || m.Notification == nil || m.Notification.Title != "Anna (agent)" || m.Notification.Body != "Hello, how can I help?" ||
		m.Data["chatId"] != "c1" || m.Android.Priority != "high" || m.Android.TTL != "300s" || m.Android.CollapseKey != "chat-c1" {
		t.Fatalf("unexpected FCM message %+v", m)
	}
	if n := e.fcm.TokenRequests(); n != 1 {
		t.Fatalf("%d token exchanges for 3 sends, want 1 (access token cached)", n)
	}
}

func TestFCMErrorsAndRetryAfter(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		reply   pushtest.Reply
		outcome push.Outcome
		reason  string
	}{
		{pushtest.Reply{Status: 404, Reason: "UNREGISTERED"}, push.OutcomeDead, "UNREGISTERED"},
		{pushtest.Reply{Status: 400, Reason: "INVALID_ARGUMENT_TOKEN"}, push.OutcomeDead, "INVALID_ARGUMENT_TOKEN"},
		{pushtest.Reply{Status: 403, Reason: "SENDER_ID_MISMATCH"}, push.OutcomeDead, "SENDER_ID_MISMATCH"},
		{pushtest.Reply{Status: 400, Reason: "INVALID_ARGUMENT"}, push.OutcomeFailed, "INVALID_ARGUMENT"},
		{pushtest.Reply{Status: 401, Reason: "THIRD_PARTY_AUTH_ERROR"}, push.OutcomeFailed, "THIRD_PARTY_AUTH_ERROR"},
	}
	for _, c := range cases {
		tok := "t-" + c.reply.Reason
		e.fcm.Script(tok, c.reply)
		r, err := e.deliver(t.Context(), agentMessage(push.Target{Kind: push.KindFCM, DeviceID: tok}))
		if err != nil || r.Outcome != c.outcome || r.Reason != c.reason {
			t.Fatalf("%s: %+v %v", c.reply.Reason, r, err)
		}
	}

	// 429 QUOTA_EXCEEDED with Retry-After: 120 → exactly 120 s on the manual clock.
	e.fcm.Script("quota", pushtest.Reply{Status: 429, Reason: "QUOTA_EXCEEDED", RetryAfter: "120"})
	if _, err := e.d.Enqueue(agentMessage(push.Target{Kind: push.KindFCM, DeviceID: "quota"})); err != nil {
		t.Fatal(err)
	}
	if d := e.waitTimer(); d != 120*time.Second {
		t.Fatalf("retry in %v, want the 120s Retry-After", d)
	}
	before := e.fcm.Count()
	e.clock.Advance(119 * time.Second)
	if e.fcm.Count() != before {
		t.Fatal("retried before Retry-After elapsed")
	}
	e.clock.Advance(time.Second)
	if r := e.result(); r.Outcome != push.OutcomeDelivered || r.Attempts != 2 {
		t.Fatalf("after Retry-After: %+v", r)
	}
}

func TestFCMRefusedAccessTokenIsRenewed(t *testing.T) {
	e := newEnv(t, nil)
	if r, _ := e.deliver(t.Context(), agentMessage(push.Target{Kind: push.KindFCM, DeviceID: "a"})); r.Outcome != push.OutcomeDelivered {
		t.Fatalf("%+v", r)
	}
	e.fcm.RevokeTokens()
	if _, err := e.d.Enqueue(agentMessage(push.Target{Kind: push.KindFCM, DeviceID: "a"})); err != nil {
		t.Fatal(err)
	}
	e.waitTimer()
	e.clock.Advance(time.Second)
	if r := e.result(); r.Outcome != push.OutcomeDelivered || r.Attempts != 2 {
		t.Fatalf("%+v", r)
	}
	if n := e.fcm.TokenRequests(); n != 2 {
		t.Fatalf("token exchanges %d, want 2", n)
	}
}

func TestWebPushEncryptsForTheBrowser(t *testing.T) {
	e := newEnv(t, nil)
	id, ep, p256, auth := e.wp.Subscribe()
	n := agentMessage(push.Target{Kind: push.KindWebPush, WebPush: &push.WebPushSubscription{Endpoint: ep, P256dh: p256, Auth: auth}})
	r, err := e.deliver(t.Context(), n)
	if err != nil || r.Outcome != push.OutcomeDelivered {
		t.Fatalf("deliver: %+v %v", r, err)
	}
	ms := e.wp.Messages()
	if len(ms) != 1 || ms[0].Subscription != id {
		t.Fatalf("messages %+v", ms)
	}
	m := ms[0]
	var got struct {
		ID, Title, Body string
		Data            map[string]string
	}
	if err := json.Unmarshal(m.Plaintext, &got); err != nil {
		t.Fatalf("decrypted payload %q: %v", m.Plaintext, err)
	}
	if got.Title != "Anna (agent)" || got.Body != "Hello, how can I help?" || got.Data["chatId"] != "c1" || got.ID != r.ID {
		t.Fatalf("payload %+v", got)
	}
	if m.TTL != 300 || m.Urgency != "high" || m.Subject != "mailto:ops@example.com" || m.Topic != "chat-c1" {
		t.Fatalf("headers: %+v", m)
	}
	if m.BodyLen > 512 {
		t.Fatalf("body %d bytes: padded to 4 KiB", m.BodyLen)
	}
}

func TestWebPushGoneAndRetryAfter(t *testing.T) {
	e := newEnv(t, nil)
	for _, st := range []int{404, 410} {
		id, ep, p, a := e.wp.Subscribe()
		e.wp.Script(id, pushtest.Reply{Status: st, Reason: "gone"})
		r, _ := e.deliver(t.Context(), agentMessage(push.Target{Kind: push.KindWebPush, WebPush: &push.WebPushSubscription{Endpoint: ep, P256dh: p, Auth: a}}))
		if r.Outcome != push.OutcomeDead || r.Reason != strconv.Itoa(st) {
			t.Fatalf("%d: %+v", st, r)
		}
	}
	id, ep, p, a := e.wp.Subscribe()
	e.wp.Script(id, pushtest.Reply{Status: 429, Reason: "slow down", RetryAfter: "30"})
	if _, err := e.d.Enqueue(agentMessage(push.Target{Kind: push.KindWebPush, WebPush: &push.WebPushSubscription{Endpoint: ep, P256dh: p, Auth: a}})); err != nil {
		t.Fatal(err)
	}
	if d := e.waitTimer(); d != 30*time.Second {
		t.Fatalf("retry in %v", d)
	}
	e.clock.Advance(30 * time.Second)
	if r := e.result(); r.Outcome != push.OutcomeDelivered {
		t.Fatalf("%+v", r)
	}
}

func TestWebPushEndpointOutsideAllowListIsNeverCalled(t *testing.T) {
	e := newEnv(t, nil)
	reg := push.NewRegistry(push.RegistryOptions{HTTPClient: e.client}) // default allow-list
	defer reg.Close()
	if _, err := reg.Apply(push.Credential{Key: key(push.KindWebPush, false), WebPush: &e.vapid}); err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Resolve(push.Target{Kind: push.KindWebPush})
	_, ep, pk, a := e.wp.Subscribe()
	n := agentMessage(push.Target{Kind: push.KindWebPush, WebPush: &push.WebPushSubscription{Endpoint: ep, P256dh: pk, Auth: a}})
	if err := p.Send(t.Context(), &n); !errors.Is(err, push.ErrDead) {
		t.Fatalf("err %v, want dead", err)
	}
	if e.wp.Count() != 0 {
		t.Fatal("request reached a host outside the allow-list")
	}
}

func TestCustomHTTP(t *testing.T) {
	e := newEnv(t, nil)
	r, _ := e.deliver(t.Context(), agentMessage(push.Target{Kind: push.KindHTTP, DeviceID: "dev-9"}))
	if r.Outcome != push.OutcomeDelivered {
		t.Fatalf("%+v", r)
	}
	n := push.Notification{Target: push.Target{Kind: push.KindHTTP, DeviceID: "dev-10", Authorization: "Basic c3ViOnNlYw=="}}
	if r, _ := e.deliver(t.Context(), n); r.Outcome != push.OutcomeDelivered {
		t.Fatalf("%+v", r)
	}
	ps := e.recv.Pushes()
	if len(ps) != 2 || ps[0].DeviceID != "dev-9" || ps[0].Message != "Hello, how can I help?" || ps[0].Authorization != "Bearer recv-secret" ||
		ps[0].Data["chatId"] != "c1" || ps[1].Message != "dummy message" || ps[1].Authorization != "Basic c3ViOnNlYw==" {
		t.Fatalf("pushes %+v", ps)
	}
	e.recv.Script("dev-11", pushtest.Reply{Status: 503, Reason: "busy"}, pushtest.Reply{Status: 503, Reason: "busy"})
	if _, err := e.d.Enqueue(push.Notification{Target: push.Target{Kind: push.KindHTTP, DeviceID: "dev-11"}}); err != nil {
		t.Fatal(err)
	}
	// Backoff doubles: 1 s then 2 s (jitter at the upper bound).
	if d := e.waitTimer(); d != time.Second {
		t.Fatalf("first retry %v", d)
	}
	e.clock.Advance(time.Second)
	if d := e.waitTimer(); d != 2*time.Second {
		t.Fatalf("second retry %v", d)
	}
	e.clock.Advance(2 * time.Second)
	if r := e.result(); r.Outcome != push.OutcomeDelivered || r.Attempts != 3 {
		t.Fatalf("%+v", r)
	}
}

func TestRetriesExhausted(t *testing.T) {
	e := newEnv(t, func(c *push.Config) { c.MaxAttempts = 2 })
	e.recv.Always("down", pushtest.Reply{Status: 500, Reason: "down"})
	if _, err := e.d.Enqueue(push.Notification{Target: push.Target{Kind: push.KindHTTP, DeviceID: "down"}}); err != nil {
		t.Fatal(err)
	}
	e.waitTimer()
	e.clock.Advance(time.Second)
	if r := e.result(); r.Outcome != push.OutcomeFailed || r.Reason != "500" || r.Attempts != 2 || !errors.Is(r.Err, push.ErrTransient) {
		t.Fatalf("%+v", r)
	}
}

func TestResendUntilAcknowledged(t *testing.T) {
	e := newEnv(t, nil)
	n := agentMessage(push.Target{Kind: push.KindHTTP, DeviceID: "rel"})
	n.Resend = &push.Resend{Delay: 15 * time.Second, MaxAttempts: 5}
	id, err := e.d.Enqueue(n)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.result(); r.Outcome != push.OutcomeDelivered {
		t.Fatalf("%+v", r)
	}
	if d := e.waitTimer(); d != 15*time.Second {
		t.Fatalf("resend in %v", d)
	}
	e.clock.Advance(15 * time.Second)
	testwait.Until(t, 10*time.Second, "resend", func() bool { return e.recv.Count() == 2 })
	e.waitTimer()
	if !e.d.Ack(id) {
		t.Fatal("ack of a pending notification returned false")
	}
	if e.d.Ack(id) {
		t.Fatal("second ack returned true")
	}
	e.clock.Advance(time.Hour)
	if e.recv.Count() != 2 {
		t.Fatalf("resent after ack: %d", e.recv.Count())
	}
	ps := e.recv.Pushes()
	if ps[0].ID != id || ps[1].ID != id {
		t.Fatalf("resend carries another id: %+v", ps)
	}
	if s := e.d.Stats()[push.KindHTTP]; s.Sent != 1 || s.Resent != 1 || s.Acked != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestResendStopsAfterMaxAttempts(t *testing.T) {
	e := newEnv(t, nil)
	n := push.Notification{Target: push.Target{Kind: push.KindHTTP, DeviceID: "rel2"}, Resend: &push.Resend{Delay: 10 * time.Second, MaxAttempts: 2}}
	if _, err := e.d.Enqueue(n); err != nil {
		t.Fatal(err)
	}
	e.result()
	for i := 2; i <= 3; i++ {
		e.waitTimer()
		e.clock.Advance(10 * time.Second)
		testwait.Until(t, 10*time.Second, "resend", func() bool { return e.recv.Count() == int64(i) })
	}
	testwait.Until(t, 10*time.Second, "pending cleared", func() bool { return e.d.PendingAcks() == 0 })
	e.clock.Advance(time.Hour)
	if e.recv.Count() != 3 {
		t.Fatalf("count %d", e.recv.Count())
	}
}

// blockingProvider holds every send until released: it lets the queue fill.
type blockingProvider struct{ release chan struct{} }

func (b blockingProvider) Kind() push.Kind { return push.KindHTTP }
func (b blockingProvider) Close() error    { return nil }
func (b blockingProvider) Send(ctx context.Context, _ *push.Notification) error {
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type resolverFunc func(push.Target) (push.Provider, error)

func (f resolverFunc) Resolve(t push.Target) (push.Provider, error) { return f(t) }

func TestQueueOverflowIsExplicitAndCounted(t *testing.T) {
	bp := blockingProvider{release: make(chan struct{})}
	d, err := push.New(push.Config{Resolver: resolverFunc(func(push.Target) (push.Provider, error) { return bp, nil }),
		QueueSize: 2, Concurrency: map[push.Kind]int{push.KindHTTP: 1}})
	if err != nil {
		t.Fatal(err)
	}
	n := push.Notification{Target: push.Target{Kind: push.KindHTTP, DeviceID: "x"}}
	// One in the worker, two queued, the fourth overflows.
	if _, err := d.Enqueue(n); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 10*time.Second, "worker busy", func() bool { return d.Stats()[push.KindHTTP].Queued == 0 })
	for range 2 {
		if _, err := d.Enqueue(n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Enqueue(n); !errors.Is(err, push.ErrQueueFull) {
		t.Fatalf("4th enqueue: %v", err)
	}
	if s := d.Stats()[push.KindHTTP]; s.Dropped["queue_full"] != 1 || s.Enqueued != 3 {
		t.Fatalf("stats %+v", s)
	}
	close(bp.release)
	if err := d.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := d.Stats()[push.KindHTTP]; s.Sent != 3 {
		t.Fatalf("drained %d of 3 on close", s.Sent)
	}
	if _, err := d.Enqueue(n); !errors.Is(err, push.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestPerKindConcurrencyIsolatesProviders(t *testing.T) {
	bp := blockingProvider{release: make(chan struct{})}
	e := newEnv(t, nil)
	d, err := push.New(push.Config{Resolver: resolverFunc(func(tg push.Target) (push.Provider, error) {
		if tg.Kind == push.KindHTTP {
			return bp, nil
		}
		return e.reg.Resolve(tg)
	}), Concurrency: map[push.Kind]int{push.KindHTTP: 2, push.KindAPNs: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := d.Enqueue(push.Notification{Target: push.Target{Kind: push.KindHTTP, DeviceID: "stuck"}}); err != nil {
			t.Fatal(err)
		}
	}
	// APNs still flows while every custom HTTP worker is stuck.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if r, err := d.Deliver(ctx, agentMessage(push.Target{Kind: push.KindAPNs, DeviceID: "free"})); err != nil || r.Outcome != push.OutcomeDelivered {
		t.Fatalf("%+v %v", r, err)
	}
	close(bp.release)
	if err := d.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestNoCredentialFails(t *testing.T) {
	e := newEnv(t, nil)
	r, _ := e.deliver(t.Context(), agentMessage(push.Target{Kind: push.KindAPNs, Provider: "other-app", DeviceID: "x"}))
	if r.Outcome != push.OutcomeFailed || r.Reason != "no_provider" || !errors.Is(r.Err, push.ErrNoProvider) {
		t.Fatalf("%+v", r)
	}
}

func TestCollectorExposesCounters(t *testing.T) {
	e := newEnv(t, nil)
	e.apns.Script("gone", pushtest.Reply{Status: 410, Reason: "Unregistered"})
	e.deliver(t.Context(), agentMessage(push.Target{Kind: push.KindAPNs, DeviceID: "gone"}))
	e.deliver(t.Context(), agentMessage(push.Target{Kind: push.KindAPNs, DeviceID: "ok"}))
	mfs := gather(t, e.d)
	if v := mfs[`chatgate_push_failed_total{provider="apns",reason="Unregistered"}`]; v != 1 {
		t.Fatalf("failed counter %v; have %v", v, mfs)
	}
	if v := mfs[`chatgate_push_sent_total{provider="apns"}`]; v != 1 {
		t.Fatalf("sent counter %v", v)
	}
	if v := mfs[`chatgate_push_latency_seconds_count{provider="apns"}`]; v != 1 {
		t.Fatalf("latency count %v", v)
	}
}

func TestCloseGivesUpOnStuckSends(t *testing.T) {
	bp := blockingProvider{release: make(chan struct{})}
	results := make(chan push.Result, 10)
	d, err := push.New(push.Config{Resolver: resolverFunc(func(push.Target) (push.Provider, error) { return bp, nil }),
		Concurrency: map[push.Kind]int{push.KindHTTP: 1}, OnResult: func(r push.Result) { results <- r }})
	if err != nil {
		t.Fatal(err)
	}
	n := push.Notification{Target: push.Target{Kind: push.KindHTTP, DeviceID: "x"}}
	for range 3 {
		if _, err := d.Enqueue(n); err != nil {
			t.Fatal(err)
		}
	}
	// A Deliver whose caller gives up gets its context error and leaves no waiter behind.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := d.Deliver(ctx, n); !errors.Is(err, context.Canceled) {
		t.Fatalf("deliver: %v", err)
	}
	ctx, cancel = context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close: %v", err)
	}
	// The stuck send was cancelled and retried never; queued ones were dropped.
	outcomes := map[push.Outcome]int{}
	for range 4 {
		select {
		case r := <-results:
			outcomes[r.Outcome]++
		case <-time.After(5 * time.Second):
			t.Fatalf("missing results: %v", outcomes)
		}
	}
	if outcomes[push.OutcomeDropped] != 3 || outcomes[push.OutcomeFailed] != 1 {
		t.Fatalf("outcomes %v", outcomes)
	}
}
