package pushlink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatgate/chatgate/push"
	"github.com/chatgate/chatgate/push/pushtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memChats is an in-memory ChatSource for the rules tests (the end-to-end test uses the
// real chat core).
type memChats struct {
	mu    sync.Mutex
	chats map[string]ChatInfo
}

func (m *memChats) PushChat(_ context.Context, id string) (ChatInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.chats[id]
	if !ok {
		return c, errors.New("no such chat")
	}
	return c, nil
}

func (m *memChats) set(c ChatInfo) {
	m.mu.Lock()
	m.chats[c.ID] = c
	m.mu.Unlock()
}

type presence struct {
	mu sync.Mutex
	on map[string]bool
}

func (p *presence) Connected(chatID, userID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.on[chatID+"/"+userID]
}

func (p *presence) set(chatID, userID string, v bool) {
	p.mu.Lock()
	p.on[chatID+"/"+userID] = v
	p.mu.Unlock()
}

type linkEnv struct {
	t     *testing.T
	apns  *pushtest.APNs
	fcm   *pushtest.FCM
	recv  *pushtest.HTTPReceiver
	clock *pushtest.ManualClock
	d     *push.Dispatcher
	chats *memChats
	pres  *presence
	set   Settings
	link  *Link
}

func newLinkEnv(t *testing.T, set Settings) *linkEnv {
	t.Helper()
	e := &linkEnv{t: t, clock: pushtest.NewManualClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)),
		chats: &memChats{chats: map[string]ChatInfo{}}, pres: &presence{on: map[string]bool{}}, set: set}
	var err error
	if e.apns, err = pushtest.StartAPNs("com.example.chat", 0); err != nil {
		t.Fatal(err)
	}
	if e.fcm, err = pushtest.StartFCM("p1", 0); err != nil {
		t.Fatal(err)
	}
	e.recv = pushtest.StartHTTPReceiver(0)
	client := pushtest.Client(e.fcm.Server, e.recv.Server)
	reg := push.NewRegistry(push.RegistryOptions{HTTPClient: client, FCMEndpoint: e.fcm.Server.URL,
		APNsProductionHost: e.apns.Server.URL, APNsSandboxHost: e.apns.Server.URL, APNsTLS: pushtest.TLSConfig(e.apns.Server)})
	for _, c := range []push.Credential{
		{Key: push.CredentialKey{Kind: push.KindAPNs, Name: "default"}, APNs: &push.APNsCredential{AuthKeyP8: e.apns.KeyP8, KeyID: e.apns.KeyID, TeamID: e.apns.TeamID, Topic: "com.example.chat"}},
		{Key: push.CredentialKey{Kind: push.KindFCM, Name: "default"}, FCM: &push.FCMCredential{ServiceAccountJSON: e.fcm.ServiceAccountJSON()}},
		{Key: push.CredentialKey{Kind: push.KindHTTP, Name: "default"}, HTTP: &push.HTTPCredential{URL: e.recv.Server.URL}},
	} {
		if _, err := reg.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	e.d, err = push.New(push.Config{Resolver: reg, Clock: e.clock, Jitter: func(time.Duration) time.Duration { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	e.link, err = New(Config{Sender: e.d, Chats: e.chats, Presence: e.pres, Settings: func(string) Settings { return e.set }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.link.Close()
		_ = e.d.Close(context.Background())
		reg.Close()
		client.CloseIdleConnections()
		e.apns.Close()
		e.fcm.Close()
		e.recv.Close()
	})
	return e
}

func (e *linkEnv) chat(id string, ud map[string]string) ChatInfo {
	c := ChatInfo{ID: id, Service: "request-chat", UserData: ud, CustomerID: "u-" + id, SecureKey: "sk-" + id, CustomerPresent: true}
	e.chats.set(c)
	return c
}

func agentMsg(text string) Event {
	return Event{Index: 7, Type: "Message", FromID: "agent-1", FromNickname: "Anna", FromType: ParticipantAgent, Text: text}
}

func waitCount(t *testing.T, what string, n int64, f func() int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f() < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (%d of %d)", what, f(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestAgentEventsNotifyBackgroundedCustomer(t *testing.T) {
	set := DefaultSettings()
	set.Content = []string{"session-id", "user-id", "secure-key"}
	e := newLinkEnv(t, set)
	e.chat("c1", map[string]string{"push_notification_deviceid": "fcm-tok", "push_notification_type": "fcm", "push_notification_language": "ru-RU"})
	ctx := t.Context()
	e.link.HandleEvent(ctx, "c1", Event{Index: 5, Type: "ParticipantJoined", FromID: "agent-1", FromNickname: "Анна", FromType: ParticipantAgent})
	e.link.HandleEvent(ctx, "c1", Event{Index: 6, Type: "Message", FromID: "u-c1", FromType: ParticipantClient, Text: "my own"})
	e.link.HandleEvent(ctx, "c1", Event{Index: 6, Type: "TypingStarted", FromID: "agent-1", FromType: ParticipantAgent})
	e.link.HandleEvent(ctx, "c1", agentMsg("Здравствуйте!"))
	e.link.HandleEvent(ctx, "c1", Event{Index: 8, Type: "Notice", FromType: ParticipantExternal, Text: "Chat session will be closed soon", UserData: map[string]string{"idle-control": "alert"}})
	waitCount(t, "3 pushes", 3, e.fcm.Count)
	ms := e.fcm.Messages()
	if len(ms) != 3 {
		t.Fatalf("%d messages", len(ms))
	}
	byEvent := map[string]pushtest.FCMMessage{}
	for _, m := range ms {
		byEvent[m.Data["event"]] = m
	}
	j, m, a := byEvent["AgentJoined"], byEvent["Message"], byEvent["IdleAlert"]
	if j.Notification == nil || j.Notification.Body != "Анна присоединился к чату" {
		t.Fatalf("joined: %+v", j)
	}
	if m.Notification == nil || m.Notification.Title != "Anna" || m.Notification.Body != "Здравствуйте!" || m.Token != "fcm-tok" ||
		m.Data["chatId"] != "c1" || m.Data["userId"] != "u-c1" || m.Data["secureKey"] != "sk-c1" || m.Data["transcriptPosition"] != "7" {
		t.Fatalf("message: %+v", m)
	}
	if a.Notification == nil || a.Notification.Body != "Chat session will be closed soon" {
		t.Fatalf("idle alert: %+v", a)
	}
	if s := e.link.Stats(); s.Notified != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestNoPushToConnectedCustomerUnlessAsked(t *testing.T) {
	e := newLinkEnv(t, DefaultSettings())
	e.chat("c2", map[string]string{"push_notification_deviceid": "apns-tok", "push_notification_type": "ios"})
	e.pres.set("c2", "u-c2", true)
	e.link.HandleEvent(t.Context(), "c2", agentMsg("hi"))
	if s := e.link.Stats(); s.Suppressed != 1 || s.Notified != 0 {
		t.Fatalf("connected customer pushed: %+v", s)
	}
	// The chat asks for pushes to active clients.
	e.chat("c2", map[string]string{"push_notification_deviceid": "apns-tok", "push_notification_type": "ios", "push_notification_to_active_client": "true"})
	e.link.HandleEvent(t.Context(), "c2", agentMsg("hi again"))
	waitCount(t, "push", 1, e.apns.Count)
	// Backgrounded: pushed with the default setting.
	e.chat("c2", map[string]string{"push_notification_deviceid": "apns-tok", "push_notification_type": "ios"})
	e.pres.set("c2", "u-c2", false)
	e.link.HandleEvent(t.Context(), "c2", agentMsg("third"))
	waitCount(t, "push", 2, e.apns.Count)
	if body := e.apns.Requests()[1].Payload["aps"].(map[string]any)["alert"].(map[string]any)["body"]; body != "third" {
		t.Fatalf("body %v", body)
	}
}

func TestLivenessAndDeadToken(t *testing.T) {
	e := newLinkEnv(t, DefaultSettings())
	e.chat("c3", map[string]string{"push_notification_deviceid": "apns-live", "push_notification_type": "ios"})
	ctx := t.Context()
	e.pres.set("c3", "u-c3", true)
	if alive, err := e.link.CheckAlive(ctx, "c3", "u-c3"); !alive || err != nil || e.apns.Count() != 0 {
		t.Fatalf("connected: %v %v (pushes %d)", alive, err, e.apns.Count())
	}
	e.pres.set("c3", "u-c3", false)
	if alive, err := e.link.CheckAlive(ctx, "c3", "u-c3"); !alive || err != nil {
		t.Fatalf("ping delivered: %v %v", alive, err)
	}
	if r := e.apns.Requests()[0]; r.PushType != "background" || r.Payload["event"] != "Ping" {
		t.Fatalf("ping %+v", r)
	}
	// The app was uninstalled: APNs answers 410 Unregistered.
	e.apns.Always("apns-live", pushtest.Reply{Status: 410, Reason: "Unregistered"})
	if alive, err := e.link.CheckAlive(ctx, "c3", "u-c3"); alive || err != nil {
		t.Fatalf("dead token: %v %v", alive, err)
	}
	// Known dead: no further pushes, immediate answers.
	e.link.HandleEvent(ctx, "c3", agentMsg("anyone?"))
	if alive, _ := e.link.CheckAlive(ctx, "c3", "u-c3"); alive {
		t.Fatal("dead token alive")
	}
	if s := e.link.Stats(); s.SkippedDead != 1 {
		t.Fatalf("stats %+v", s)
	}
	// A provider outage is "not confirmed", with an error the core can log.
	e.chat("c4", map[string]string{"push_notification_deviceid": "apns-down", "push_notification_type": "ios"})
	e.apns.Always("apns-down", pushtest.Reply{Status: 503, Reason: "ServiceUnavailable"})
	if alive, err := e.link.CheckAlive(ctx, "c4", "u-c4"); alive || !errors.Is(err, ErrPingFailed) {
		t.Fatalf("outage: %v %v", alive, err)
	}
	// No subscription: not alive.
	e.chat("c5", map[string]string{})
	if alive, err := e.link.CheckAlive(ctx, "c5", "u-c5"); alive || err != nil {
		t.Fatalf("no subscription: %v %v", alive, err)
	}
}

func TestSessionRestorePushSend(t *testing.T) {
	e := newLinkEnv(t, DefaultSettings())
	c := e.chat("c6", map[string]string{"push_notification_deviceid": "apns-r", "push_notification_type": "ios"})
	c.Restored = true
	e.chats.set(c)
	e.link.HandleEvent(t.Context(), "c6", agentMsg("after restore"))
	if alive, _ := e.link.CheckAlive(t.Context(), "c6", "u-c6"); alive {
		t.Fatal("alive without pushes")
	}
	if e.apns.Count() != 0 || e.link.Stats().Notified != 0 {
		t.Fatal("pushed after restoration without session-restore-push-send")
	}
	e.set.SessionRestorePushSend = true
	e.link.HandleEvent(t.Context(), "c6", agentMsg("after restore"))
	waitCount(t, "push", 1, e.apns.Count)
}

func TestRestSubscriptionResendAndAck(t *testing.T) {
	set := DefaultSettings()
	set.FlexPushOnJoin = true
	e := newLinkEnv(t, set)
	e.chat("c7", map[string]string{"GCTI_Chat_PushSubscribe": "true", "GCTI_GMS_PushDeviceId": "receiver-7", "GCTI_GMS_PushDeviceType": "customhttp", "GCTI_GMS_PushResend": "true"})
	e.link.HandleEvent(t.Context(), "c7", agentMsg("reliable"))
	waitCount(t, "push", 1, e.recv.Count)
	p := e.recv.Pushes()[0]
	if p.DeviceID != "receiver-7" || p.Message != "reliable" || p.Data["chatId"] != "c7" || p.ID == "" {
		t.Fatalf("push %+v", p)
	}
	// Not acknowledged: resent after flex-push-resend-delay.
	deadline := time.Now().Add(10 * time.Second)
	for len(e.clock.Pending()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if d := e.clock.Pending(); len(d) != 1 || d[0] != 15*time.Second {
		t.Fatalf("resend timer %v", d)
	}
	e.clock.Advance(15 * time.Second)
	waitCount(t, "resend", 2, e.recv.Count)
	// The receiver acknowledges through the ack endpoint.
	srv := httptest.NewServer(e.link.AckHandler())
	defer srv.Close()
	ack := func() int {
		b, _ := json.Marshal(map[string]string{"id": p.ID})
		resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := ack(); st != 204 {
		t.Fatalf("ack %d", st)
	}
	if st := ack(); st != 404 {
		t.Fatalf("second ack %d", st)
	}
	http.DefaultClient.CloseIdleConnections()
	e.clock.Advance(time.Hour)
	if e.recv.Count() != 2 {
		t.Fatalf("resent after ack: %d", e.recv.Count())
	}
}

func TestChatEndedNotifies(t *testing.T) {
	e := newLinkEnv(t, DefaultSettings())
	c := e.chat("c8", map[string]string{"push_notification_deviceid": "fcm-8"})
	c.Ended = true
	e.chats.set(c)
	// An agent ends the chat: the core commits the agent's leave and the customer's
	// (removed by a participant) together; the end is told once, by the customer's.
	e.link.HandleEvent(t.Context(), "c8", Event{Index: 9, Type: "ParticipantLeft", FromID: "agent-1", FromNickname: "Anna", FromType: ParticipantAgent, UserData: map[string]string{"quit-reason-code": "0"}})
	e.link.HandleEvent(t.Context(), "c8", Event{Index: 10, Type: "ParticipantLeft", FromID: "u-c8", FromType: ParticipantClient, UserData: map[string]string{"quit-reason-code": "4"}})
	waitCount(t, "push", 1, e.fcm.Count)
	if m := e.fcm.Messages()[0]; m.Data["event"] != "ChatEnded" || m.Notification.Body != "The chat has ended" {
		t.Fatalf("%+v", m)
	}
	if e.link.Stats().Notified != 1 {
		t.Fatalf("chat end told %d times", e.link.Stats().Notified)
	}
	// The customer logging out does not notify the customer, nor do the agents removed
	// with the chat.
	e.link.HandleEvent(t.Context(), "c8", Event{Index: 10, Type: "ParticipantLeft", FromID: "u-c8", FromType: ParticipantClient, UserData: map[string]string{"quit-reason-code": "0"}})
	e.link.HandleEvent(t.Context(), "c8", Event{Index: 11, Type: "ParticipantLeft", FromID: "agent-1", FromNickname: "Anna", FromType: ParticipantAgent, UserData: map[string]string{"quit-reason-code": "5"}})
	if e.link.Stats().Notified != 1 {
		t.Fatal("logout notified the customer")
	}
}

func TestDeadResultOfANormalPushStopsFurtherPushes(t *testing.T) {
	e := newLinkEnv(t, DefaultSettings())
	e.chat("c9", map[string]string{"push_notification_deviceid": "fcm-gone"})
	e.fcm.Always("fcm-gone", pushtest.Reply{Status: 404, Reason: "UNREGISTERED"})
	e.link.HandleEvent(t.Context(), "c9", agentMsg("one"))
	deadline := time.Now().Add(10 * time.Second)
	for !e.link.isDead(push.Target{Kind: push.KindFCM, DeviceID: "fcm-gone"}) {
		if time.Now().After(deadline) {
			t.Fatal("dead result never reached the link")
		}
		time.Sleep(time.Millisecond)
	}
	e.link.HandleEvent(t.Context(), "c9", agentMsg("two"))
	if s := e.link.Stats(); s.Notified != 1 || s.SkippedDead != 1 {
		t.Fatalf("stats %+v", s)
	}
	if alive, err := e.link.CheckAlive(t.Context(), "c9", "u-c9"); alive || err != nil {
		t.Fatalf("alive %v %v", alive, err)
	}
}
