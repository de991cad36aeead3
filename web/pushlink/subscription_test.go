package pushlink

import (
	"errors"
	"testing"

	"github.com/chatgate/chatgate/push"
)

const (
	testP256 = "BHQYAAISTOCNqa1GXpnksiBhx7C8TNjzPxyvfURTD6f9WT_U3aKaOcTMGSxXQoqz2uQmp6e9Z7ibMhQGb0t0dks"
	testAuth = "kfp_16Wgqg7df8iOy_OKmA"
)

func TestParseSubscription(t *testing.T) {
	ok := []struct {
		name string
		ud   map[string]string
		join bool
		want Subscription
	}{
		{"gms snake fcm", map[string]string{"push_notification_deviceid": "tok1", "push_notification_type": "fcm", "push_notification_debug": "true", "push_notification_language": "ru-RU", "push_notification_provider": "app2"}, false,
			Subscription{Target: push.Target{Kind: push.KindFCM, DeviceID: "tok1", Debug: true, Provider: "app2"}, Vocabulary: VocabularyGMS, Language: "ru-RU", IncludePayload: true}},
		{"gms camel ios", map[string]string{"pushNotificationDeviceId": "apns1", "pushNotificationType": "ios", "pushNotificationDebug": "false"}, false,
			Subscription{Target: push.Target{Kind: push.KindAPNs, DeviceID: "apns1"}, Vocabulary: VocabularyGMS, IncludePayload: true}},
		{"gms no type means fcm", map[string]string{"push_notification_deviceid": "t"}, false,
			Subscription{Target: push.Target{Kind: push.KindFCM, DeviceID: "t"}, Vocabulary: VocabularyGMS, IncludePayload: true}},
		{"rest vocabulary", map[string]string{"GCTI_Chat_PushSubscribe": "true", "GCTI_GMS_PushDeviceId": "recv-1", "GCTI_GMS_PushDeviceType": "customhttp", "GCTI_GMS_PushResend": "true", "GCTI_GMS_PushIncludePayload": "true", "GCTI_GMS_NodeGroup": "g1"}, true,
			Subscription{Target: push.Target{Kind: push.KindHTTP, DeviceID: "recv-1"}, Vocabulary: VocabularyChatServer, Resend: true, IncludePayload: true}},
		{"webpush json", map[string]string{"push_notification_type": "webpush", "push_notification_subscription": `{"endpoint":"https://fcm.googleapis.com/fcm/send/abc","expirationTime":null,"keys":{"p256dh":"` + testP256 + `","auth":"` + testAuth + `"}}`}, false,
			Subscription{Target: push.Target{Kind: push.KindWebPush, WebPush: &push.WebPushSubscription{Endpoint: "https://fcm.googleapis.com/fcm/send/abc", P256dh: testP256, Auth: testAuth}}, Vocabulary: VocabularyGMS, IncludePayload: true}},
		{"webpush keys", map[string]string{"push_notification_type": "webpush", "push_notification_deviceid": "https://updates.push.services.mozilla.com/wpush/v2/x", "push_notification_p256dh": testP256, "push_notification_auth": testAuth}, false,
			Subscription{Target: push.Target{Kind: push.KindWebPush, WebPush: &push.WebPushSubscription{Endpoint: "https://updates.push.services.mozilla.com/wpush/v2/x", P256dh: testP256, Auth: testAuth}}, Vocabulary: VocabularyGMS, IncludePayload: true}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseSubscription(c.ud, c.join)
			if err != nil {
				t.Fatal(err)
			}
			if got.Target.String() != c.want.Target.String() || got.Target.Debug != c.want.Target.Debug || got.Target.Provider != c.want.Target.Provider ||
				got.Vocabulary != c.want.Vocabulary || got.Language != c.want.Language || got.Resend != c.want.Resend || got.IncludePayload != c.want.IncludePayload ||
				(c.want.Target.WebPush != nil && *got.Target.WebPush != *c.want.Target.WebPush) {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
	bad := []struct {
		name string
		ud   map[string]string
		join bool
		want error
	}{
		{"nothing", map[string]string{"GCTI_Chat_AsyncMode": "true"}, true, ErrNoSubscription},
		{"rest without flex-push-on-join", map[string]string{"GCTI_Chat_PushSubscribe": "true", "GCTI_GMS_PushDeviceId": "x"}, false, ErrNoSubscription},
		{"comet", map[string]string{"push_notification_deviceid": "x", "push_notification_type": "comet"}, false, ErrNoSubscription},
		{"unknown type", map[string]string{"push_notification_deviceid": "x", "push_notification_type": "pigeon"}, false, ErrBadSubscription},
		{"webpush http endpoint", map[string]string{"push_notification_type": "webpush", "push_notification_deviceid": "http://evil.example/", "push_notification_p256dh": testP256, "push_notification_auth": testAuth}, false, ErrBadSubscription},
		{"webpush short auth", map[string]string{"push_notification_type": "webpush", "push_notification_deviceid": "https://fcm.googleapis.com/x", "push_notification_p256dh": testP256, "push_notification_auth": "AAAA"}, false, ErrBadSubscription},
		{"webpush not json", map[string]string{"push_notification_type": "webpush", "push_notification_subscription": "{"}, false, ErrBadSubscription},
		{"bad provider name", map[string]string{"push_notification_deviceid": "x", "push_notification_provider": "../etc"}, false, ErrBadSubscription},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseSubscription(c.ud, c.join); !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
}

func TestTemplatesLanguageFallback(t *testing.T) {
	tp := DefaultTemplates()
	if _, b := tp.Render("ru-RU", TypeAgentJoined, "Анна", "", "c1"); b != "Анна присоединился к чату" {
		t.Fatalf("ru-RU: %q", b)
	}
	if _, b := tp.Render("pt_BR", TypeChatEnded, "", "", "c1"); b != "The chat has ended" {
		t.Fatalf("fallback: %q", b)
	}
	long := make([]rune, 1000)
	for i := range long {
		long[i] = 'я'
	}
	if _, b := tp.Render("en", TypeMessage, "a", string(long), "c"); len([]rune(b)) != maxBodyRunes {
		t.Fatalf("not truncated: %d runes", len([]rune(b)))
	}
	custom, err := ParseTemplates([]byte(`{"de":{"Message":{"title":"{nickname} schreibt","body":"{text}"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if ti, _ := custom.Render("de-AT", TypeMessage, "Jan", "Hallo", "c"); ti != "Jan schreibt" {
		t.Fatalf("custom: %q", ti)
	}
	if _, b := custom.Render("en", TypeAgentLeft, "Jan", "", "c"); b != "Jan left the chat" {
		t.Fatalf("defaults not merged: %q", b)
	}
}

func FuzzParseSubscription(f *testing.F) {
	f.Add("push_notification_deviceid", "tok", "push_notification_type", "ios", true)
	f.Add("GCTI_GMS_PushDeviceId", "x", "GCTI_Chat_PushSubscribe", "true", true)
	f.Add("push_notification_subscription", `{"endpoint":"https://a/b","keys":{"p256dh":"`+testP256+`","auth":"`+testAuth+`"}}`, "push_notification_type", "webpush", false)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, join bool) {
		s, err := ParseSubscription(map[string]string{k1: v1, k2: v2}, join)
		if err != nil {
			return
		}
		switch s.Target.Kind {
		case push.KindWebPush:
			if s.Target.WebPush == nil || checkWebPush(*s.Target.WebPush) != nil {
				t.Fatalf("accepted a bad web push subscription %+v", s)
			}
		case push.KindAPNs, push.KindFCM, push.KindHTTP:
			if s.Target.DeviceID == "" || len(s.Target.DeviceID) > maxFieldLen {
				t.Fatalf("bad device id accepted %+v", s)
			}
		default:
			t.Fatalf("unknown kind %q", s.Target.Kind)
		}
	})
}

func TestParseTemplatesIsStrict(t *testing.T) {
	for name, body := range map[string]string{
		"unknown type":  `{"en": {"Messages": {"body": "{text}"}}}`,
		"ping has none": `{"en": {"Ping": {"body": "x"}}}`,
		"unknown field": `{"en": {"Message": {"bdy": "{text}"}}}`,
		"empty lang":    `{" ": {"Message": {"body": "{text}"}}}`,
		"not an object": `["en"]`,
	} {
		if _, err := ParseTemplates([]byte(body)); err == nil {
			t.Errorf("%s: accepted %s", name, body)
		}
	}
}

func TestTemplateOffTurnsANotificationTypeOff(t *testing.T) {
	e := newLinkEnv(t, DefaultSettings())
	tp, err := ParseTemplates([]byte(`{"en": {"AgentJoined": {"off": true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	e.link.cfg.Templates = tp // before the first event: nothing reads it concurrently yet
	if tp.Enabled("en-US", TypeAgentJoined) || !tp.Enabled("en", TypeMessage) || !tp.Enabled("ru", TypeAgentJoined) {
		t.Fatal("Enabled does not follow the file")
	}
	e.chat("c9", map[string]string{"push_notification_deviceid": "fcm-off", "push_notification_type": "fcm"})
	e.link.HandleEvent(t.Context(), "c9", Event{Index: 2, Type: "ParticipantJoined", FromID: "agent-1", FromNickname: "Anna", FromType: ParticipantAgent})
	e.link.HandleEvent(t.Context(), "c9", agentMsg("after the join"))
	waitCount(t, "the message push", 1, e.fcm.Count)
	if ms := e.fcm.Messages(); len(ms) != 1 || ms[0].Data["event"] != "Message" {
		t.Fatalf("pushed %+v, want only the message", ms)
	}
	if s := e.link.Stats(); s.Notified != 1 {
		t.Fatalf("stats %+v", s)
	}
}
