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

	"github.com/chatgate/chatgate/web/adminauth"

	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/push"
	"github.com/chatgate/chatgate/push/credstore"
	"github.com/chatgate/chatgate/push/pushtest"
	"github.com/chatgate/chatgate/web/pushadmin"
)

// TestPushSideEndToEnd runs everything on the push side for real: credentials uploaded
// through the admin API (HTTP, bearer token) into an encrypted JetStream KV bucket on an
// embedded NATS server, loaded into the registry by the KV watch, the dispatcher, the link,
// and the provider fakes. Chat events are offered the way the chat core's listener fan-out
// offers them (the core-driven variant follows once package chatcore exists).
func TestPushSideEndToEnd(t *testing.T) {
	ctx := t.Context()
	nc, err := natsserver.Start(ctx, natsserver.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close(context.Background())
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	store, err := credstore.Open(ctx, nc, secret, nil)
	if err != nil {
		t.Fatal(err)
	}

	apns, err := pushtest.StartAPNs("com.example.chat", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer apns.Close()
	wp := pushtest.StartWebPush(0)
	defer wp.Close()
	client := pushtest.Client(wp.Server)
	defer client.CloseIdleConnections()

	reg := push.NewRegistry(push.RegistryOptions{HTTPClient: client, WebPushHosts: []string{"127.0.0.1"},
		APNsProductionHost: apns.Server.URL, APNsSandboxHost: apns.Server.URL, APNsTLS: pushtest.TLSConfig(apns.Server)})
	defer reg.Close()
	watch, err := store.Watch(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Stop()
	clock := pushtest.NewManualClock(time.Now())
	d, err := push.New(push.Config{Resolver: reg, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	// The admin API is given no Registry: only the KV watch installs credentials here, so
	// the test proves the watch path.
	admin, err := pushadmin.New(pushadmin.Config{Store: store, Stats: d.Stats, Auth: adminAuth(t, "e2e-admin-token-123456")})
	if err != nil {
		t.Fatal(err)
	}
	adminSrv := httptest.NewServer(http.StripPrefix("/admin/push", admin))
	defer adminSrv.Close()
	defer http.DefaultClient.CloseIdleConnections()
	put := func(method, path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, adminSrv.URL+"/admin/push"+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer e2e-admin-token-123456")
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

	chats := &memChats{chats: map[string]ChatInfo{}}
	pres := &presence{on: map[string]bool{}}
	link, err := New(Config{Sender: d, Chats: chats, Presence: pres})
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()

	// 1. Administrator uploads the APNs key and generates the VAPID pair.
	put("PUT", "/credentials/apns/default", map[string]string{"authKeyP8": string(apns.KeyP8), "keyId": apns.KeyID, "teamId": apns.TeamID, "topic": "com.example.chat"})
	vapid := put("POST", "/credentials/webpush/default/generate", map[string]string{"subject": "ops@example.com"})
	wp.VAPIDPublicKey = vapid["publicKey"].(string)
	waitFor(t, "watch installs credentials", func() bool { return len(reg.Infos()) == 2 })

	// 2. An iOS customer and a browser customer, both backgrounded.
	chats.set(ChatInfo{ID: "ios-chat", CustomerID: "u1", CustomerPresent: true,
		UserData: map[string]string{"push_notification_deviceid": "ios-token", "push_notification_type": "ios"}})
	sid, ep, p256, auth := wp.Subscribe()
	sub, _ := json.Marshal(map[string]any{"endpoint": ep, "keys": map[string]string{"p256dh": p256, "auth": auth}})
	chats.set(ChatInfo{ID: "web-chat", CustomerID: "u2", CustomerPresent: true,
		UserData: map[string]string{"push_notification_type": "webpush", "push_notification_subscription": string(sub), "push_notification_language": "ru"}})

	link.HandleEvent(ctx, "ios-chat", agentMsg("Your order has shipped"))
	link.HandleEvent(ctx, "web-chat", Event{Index: 3, Type: "ParticipantJoined", FromID: "a", FromNickname: "Анна", FromType: ParticipantAgent})
	waitFor(t, "both pushes", func() bool { return apns.Count() == 1 && wp.Count() == 1 })
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
	k2, err := pushtest.StartAPNs("com.example.chat", 1)
	if err != nil {
		t.Fatal(err)
	}
	k2.Close()
	apns.AddKey("ROTATED002", &k2.Key.PublicKey)
	put("PUT", "/credentials/apns/default", map[string]string{"authKeyP8": string(k2.KeyP8), "keyId": "ROTATED002", "teamId": apns.TeamID, "topic": "com.example.chat"})
	waitFor(t, "watch installs the rotated key", func() bool {
		for _, i := range reg.Infos() {
			if i.Key.Kind == push.KindAPNs && i.KeyID == "ROTATED002" {
				return true
			}
		}
		return false
	})
	apns.AddKey(apns.KeyID, nil)
	link.HandleEvent(ctx, "ios-chat", agentMsg("Anything else?"))
	waitFor(t, "push with the rotated key", func() bool { return apns.Count() == 2 })

	// 4. The app is uninstalled: APNs answers 410. The next push finds the token dead; from
	// then on the liveness check answers "not alive" without pushing, so the core removes
	// the customer after its re-armed flex-push-timeout.
	apns.Always("ios-token", pushtest.Reply{Status: 410, Reason: "Unregistered"})
	link.HandleEvent(ctx, "ios-chat", agentMsg("Hello?"))
	waitFor(t, "dead token noticed", func() bool { return link.isDead(push.Target{Kind: push.KindAPNs, DeviceID: "ios-token"}) })
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

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func adminAuth(t *testing.T, token string) *adminauth.Credentials {
	t.Helper()
	a, err := adminauth.New(adminauth.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
