package pushlink

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/internal/testwait"
	"github.com/chatgate/chatgate/push"
	"github.com/chatgate/chatgate/push/credstore"
	"github.com/chatgate/chatgate/push/pushtest"
	"github.com/chatgate/chatgate/web/adminauth"
	"github.com/chatgate/chatgate/web/pushadmin"
)

// pushSide is everything on the push side, for real: an embedded NATS server, the
// encrypted credentials KV bucket, the registry fed by the KV watch, the dispatcher, the
// admin API over HTTP (bearer token), and the APNs and Web Push fakes. Shared by
// TestPushSideEndToEnd and the core-driven tests (core_e2e_test.go).
type pushSide struct {
	t        testing.TB
	nc       *natsserver.Conn
	apns     *pushtest.APNs
	wp       *pushtest.WebPush
	reg      *push.Registry
	d        *push.Dispatcher
	adminURL string
}

const e2eAdminToken = "e2e-admin-token-123456"

func startPushSide(t testing.TB) *pushSide {
	t.Helper()
	ctx := t.Context()
	p := &pushSide{t: t}
	var err error
	if p.nc, err = natsserver.Start(ctx, natsserver.Options{DataDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.nc.Close(context.Background()) })
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	store, err := credstore.Open(ctx, p.nc, secret, nil)
	if err != nil {
		t.Fatal(err)
	}

	if p.apns, err = pushtest.StartAPNs("com.example.chat", 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.apns.Close)
	p.wp = pushtest.StartWebPush(0)
	t.Cleanup(p.wp.Close)
	client := pushtest.Client(p.wp.Server)
	t.Cleanup(client.CloseIdleConnections)

	p.reg = push.NewRegistry(push.RegistryOptions{HTTPClient: client, WebPushHosts: []string{"127.0.0.1"},
		APNsProductionHost: p.apns.Server.URL, APNsSandboxHost: p.apns.Server.URL, APNsTLS: pushtest.TLSConfig(p.apns.Server)})
	t.Cleanup(func() { _ = p.reg.Close() })
	watch, err := store.Watch(ctx, p.reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(watch.Stop)
	clock := pushtest.NewManualClock(time.Now())
	if p.d, err = push.New(push.Config{Resolver: p.reg, Clock: clock}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.d.Close(context.Background()) })
	// The admin API is given no Registry: only the KV watch installs credentials here, so
	// the test proves the watch path.
	admin, err := pushadmin.New(pushadmin.Config{Store: store, Stats: p.d.Stats, Auth: adminAuth(t, e2eAdminToken)})
	if err != nil {
		t.Fatal(err)
	}
	adminSrv := httptest.NewServer(http.StripPrefix("/admin/push", admin))
	t.Cleanup(adminSrv.Close)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	p.adminURL = adminSrv.URL
	return p
}

// apnsGot and wpGot count the notifications the fakes recorded. (The fakes' Count is
// incremented before the request is recorded, so waiting on Count and then reading
// Requests or Messages can miss the last one.)
func (p *pushSide) apnsGot() int64 { return int64(len(p.apns.Requests())) }
func (p *pushSide) wpGot() int64   { return int64(len(p.wp.Messages())) }

// admin calls the admin API and wants a 200.
func (p *pushSide) admin(method, path string, body any) map[string]any {
	t := p.t
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, p.adminURL+"/admin/push"+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// uploadCredentials: the administrator uploads the APNs key and generates the VAPID pair;
// returns once the KV watch installed both.
func (p *pushSide) uploadCredentials() {
	p.t.Helper()
	p.admin("PUT", "/credentials/apns/default", map[string]string{"authKeyP8": string(p.apns.KeyP8), "keyId": p.apns.KeyID, "teamId": p.apns.TeamID, "topic": "com.example.chat"})
	vapid := p.admin("POST", "/credentials/webpush/default/generate", map[string]string{"subject": "ops@example.com"})
	p.wp.VAPIDPublicKey = vapid["publicKey"].(string)
	testwait.Until(p.t, 10*time.Second, "watch installs credentials", func() bool { return len(p.reg.Infos()) == 2 })
}

// rotateAPNsKey uploads a new APNs key (key id ROTATED002) through the admin API, waits
// for the KV watch to install it, then makes the fake stop accepting the old key: from
// then on only a push signed with the new key is accepted.
func (p *pushSide) rotateAPNsKey() {
	t := p.t
	t.Helper()
	k2, err := pushtest.StartAPNs("com.example.chat", 1)
	if err != nil {
		t.Fatal(err)
	}
	k2.Close()
	p.apns.AddKey("ROTATED002", &k2.Key.PublicKey)
	p.admin("PUT", "/credentials/apns/default", map[string]string{"authKeyP8": string(k2.KeyP8), "keyId": "ROTATED002", "teamId": p.apns.TeamID, "topic": "com.example.chat"})
	testwait.Until(t, 10*time.Second, "watch installs the rotated key", func() bool {
		for _, i := range p.reg.Infos() {
			if i.Key.Kind == push.KindAPNs && i.KeyID == "ROTATED002" {
				return true
			}
		}
		return false
	})
	p.apns.AddKey(p.apns.KeyID, nil)
}

// TestPushSideEndToEnd runs everything on the push side for real: credentials uploaded
// through the admin API (HTTP, bearer token) into an encrypted JetStream KV bucket on an
// embedded NATS server, loaded into the registry by the KV watch, the dispatcher, the link,
// and the provider fakes. Chat events are offered to the link directly, the way the chat
// core's listener offers them; core_e2e_test.go drives the same through the real core.
func TestPushSideEndToEnd(t *testing.T) {
	ctx := t.Context()
	p := startPushSide(t)
	apns, wp, d := p.apns, p.wp, p.d

	chats := &memChats{chats: map[string]ChatInfo{}}
	pres := &presence{on: map[string]bool{}}
	link, err := New(Config{Sender: d, Chats: chats, Presence: pres})
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()

	// 1. Administrator uploads the APNs key and generates the VAPID pair.
	p.uploadCredentials()

	// 2. An iOS customer and a browser customer, both backgrounded.
	chats.set(ChatInfo{ID: "ios-chat", CustomerID: "u1", CustomerPresent: true,
		UserData: map[string]string{"push_notification_deviceid": "ios-token", "push_notification_type": "ios"}})
	sid, ep, p256, auth := wp.Subscribe()
	sub, _ := json.Marshal(map[string]any{"endpoint": ep, "keys": map[string]string{"p256dh": p256, "auth": auth}})
	chats.set(ChatInfo{ID: "web-chat", CustomerID: "u2", CustomerPresent: true,
		UserData: map[string]string{"push_notification_type": "webpush", "push_notification_subscription": string(sub), "push_notification_language": "ru"}})

	link.HandleEvent(ctx, "ios-chat", agentMsg("Your order has shipped"))
	link.HandleEvent(ctx, "web-chat", Event{Index: 3, Type: "ParticipantJoined", FromID: "a", FromNickname: "Анна", FromType: ParticipantAgent})
	testwait.Until(t, 10*time.Second, "both pushes", func() bool { return p.apnsGot() == 1 && p.wpGot() == 1 })
	if r := apns.Requests()[0]; r.DeviceToken != "ios-token" || r.Payload["aps"].(map[string]any)["alert"].(map[string]any)["body"] != "Your order has shipped" || r.Payload["chatId"] != "ios-chat" {
		t.Fatalf("apns %+v", r)
	}
	var got struct {
		Body string
		Data map[string]string
	}
	m := wp.Messages()[0]
	if err := json.Unmarshal(m.Plaintext, &got); err != nil || m.Subscription != sid || got.Body != "Анна присоединился к чату" || got.Data["userId"] != "u2" {
		t.Fatalf("web push %+v %q %v", got, m.Plaintext, err)
	}

	// 3. Key rotation through the admin API; the fake stops accepting the old key. The next
	// push uses the new one.
	p.rotateAPNsKey()
	link.HandleEvent(ctx, "ios-chat", agentMsg("Anything else?"))
	testwait.Until(t, 10*time.Second, "push with the rotated key", func() bool { return apns.Count() == 2 })
	// The fake counts a request before its answer reaches the dispatcher: wait for the
	// dispatcher too, or the next push can overtake it and the stats below read Sent 1.
	testwait.Until(t, 10*time.Second, "dispatcher counts it", func() bool { return d.Stats()[push.KindAPNs].Sent == 2 })

	// 4. The app is uninstalled: APNs answers 410. The next push finds the token dead; from
	// then on the liveness check answers "not alive" without pushing, so the core removes
	// the customer after its re-armed flex-push-timeout.
	apns.Always("ios-token", pushtest.Reply{Status: 410, Reason: "Unregistered"})
	link.HandleEvent(ctx, "ios-chat", agentMsg("Hello?"))
	testwait.Until(t, 10*time.Second, "dead token noticed", func() bool { return link.isDead(push.Target{Kind: push.KindAPNs, DeviceID: "ios-token"}) })
	for range 2 { // first expiry, then the re-armed one
		if alive, err := link.CheckAlive(ctx, "ios-chat", "u1"); alive || err != nil {
			t.Fatalf("dead token alive=%v err=%v", alive, err)
		}
	}
	st := d.Stats()
	if st[push.KindAPNs].Sent != 2 || st[push.KindAPNs].Dead != 1 || st[push.KindWebPush].Sent != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The browser customer reconnects: no more pushes to them.
	pres.set("web-chat", "u2", true)
	link.HandleEvent(ctx, "web-chat", agentMsg("are you there"))
	if alive, _ := link.CheckAlive(ctx, "web-chat", "u2"); !alive || wp.Count() != 1 {
		t.Fatalf("connected customer: alive=%v pushes=%d", alive, wp.Count())
	}
}

func adminAuth(t testing.TB, token string) *adminauth.Credentials {
	t.Helper()
	a, err := adminauth.New(adminauth.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
