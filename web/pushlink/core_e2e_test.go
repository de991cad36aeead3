package pushlink

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/jetstore"
	"github.com/chatgate/chatgate/internal/testwait"
	"github.com/chatgate/chatgate/push"
	"github.com/chatgate/chatgate/push/pushtest"
)

// The push issue's end-to-end story through the real chat core: chatcore on embedded
// JetStream with a manual clock, the real dispatcher with the real APNs and Web Push
// providers against the pushtest fakes, credentials through the admin API and the
// encrypted credentials store (startPushSide), and the real Link wired into the core
// exactly as cmd/chatgate/chat.go wires it: as the core's LivenessChecker and, through one
// core Listener, fed every committed event.

var coreT0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// armClock is the core's manual clock, plus a record of the timers the core arms, so a
// test can wait for "the core has re-armed for instant T" (an observable fact) instead of
// sleeping. chatcore's own tests wait on an unexported settled(); from outside the package
// the armed timer is what can be observed.
type armClock struct {
	*chatcore.ManualClock
	mu    sync.Mutex
	armed map[*armTimer]struct{} // armed and not stopped (fired ones stay, at <= now)
}

type armTimer struct {
	chatcore.Timer
	c  *armClock
	at time.Time
}

func newArmClock(start time.Time) *armClock {
	return &armClock{ManualClock: chatcore.NewManualClock(start), armed: map[*armTimer]struct{}{}}
}

func (c *armClock) Timer(at time.Time) chatcore.Timer {
	t := &armTimer{c: c, at: at}
	c.mu.Lock()
	c.armed[t] = struct{}{}
	c.mu.Unlock()
	t.Timer = c.ManualClock.Timer(at)
	return t
}

func (t *armTimer) Stop() {
	t.c.mu.Lock()
	delete(t.c.armed, t)
	t.c.mu.Unlock()
	t.Timer.Stop()
}

// armedAt reports whether the core has a timer armed for at (still in the future).
func (c *armClock) armedAt(at time.Time) bool {
	if !at.After(c.Now()) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for t := range c.armed {
		if t.at.Equal(at) {
			return true
		}
	}
	return false
}

// serviceOptions is the core's OptionSource: per-service options over the defaults (the
// binary backs it with the config file; here the test sets them).
type serviceOptions struct {
	mu  sync.Mutex
	def chatcore.Options
	svc map[string]chatcore.Options
}

func (s *serviceOptions) Options(service string) chatcore.Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.svc[service]; ok {
		return o
	}
	return s.def
}

// coreEnv is the push side plus the chat core and the link.
type coreEnv struct {
	*pushSide
	clock *armClock
	opts  *serviceOptions
	core  *chatcore.Core
	link  *Link
	// pres models the Bayeux side only: whether the customer's CometD connection is live.
	// That is web/gmschat's Presence in the binary (answered from bayeux sessions); it is
	// not under test here, so the test sets the answer: false = the app is backgrounded
	// (after /meta/disconnect), true = connected.
	pres *presence

	mu      sync.Mutex
	handled map[string]int64 // chat → highest event index the link has been handed
}

func startCore(t testing.TB, svc map[string]chatcore.Options) *coreEnv {
	t.Helper()
	e := &coreEnv{pushSide: startPushSide(t), clock: newArmClock(coreT0), pres: &presence{on: map[string]bool{}},
		opts: &serviceOptions{def: chatcore.DefaultOptions(), svc: svc}, handled: map[string]int64{}}
	e.uploadCredentials()
	ctx := t.Context()
	store, err := jetstore.Open(ctx, e.nc, jetstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// As cmd/chatgate/chat.go: the link reads chats through CoreChats (filled in once the
	// core exists), settings from the chat options, and is the core's liveness checker.
	chats := &CoreChats{}
	if e.link, err = New(Config{Sender: e.d, Chats: chats, Presence: e.pres,
		Settings: func(service string) Settings { return SettingsFromOptions(e.opts.Options(service)) }}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.link.Close)
	lctx := context.WithoutCancel(ctx)
	// The per-chat limits are lifted: BenchmarkCoreEventToAPNs sends b.N messages into one
	// chat on a clock that stands still.
	unlimited := chatcore.Limits{EventRate: 1e12, EventBurst: 1 << 40, MaxEvents: 1 << 40, MaxTranscriptBytes: 1 << 60}
	if e.core, err = chatcore.New(ctx, chatcore.Config{Store: store, Clock: e.clock, Options: e.opts,
		Liveness: e.link, NodeName: "node-1", DeferTimers: true, Limits: unlimited}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.core.Close)
	chats.Core = e.core
	e.core.AddListener(chatcore.ListenerFuncs{Event: func(v chatcore.ChatView, ev chatcore.Event) {
		e.link.HandleEvent(lctx, v.ID, EventFromCore(ev)) // exactly as cmd/chatgate/chat.go
		e.mu.Lock()
		e.handled[v.ID] = max(e.handled[v.ID], ev.Index) // lets the test wait for the link
		e.mu.Unlock()
	}})
	e.core.StartTimers()
	return e
}

// waitHandled waits until the link has been handed the chat's events up to index.
func (e *coreEnv) waitHandled(chatID string, index int64) {
	e.t.Helper()
	testwait.Until(e.t, 10*time.Second, fmt.Sprintf("link handed %s #%d", chatID, index), func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.handled[chatID] >= index
	})
}

// lastIndex is the index of the last event an operation committed.
func lastIndex(t testing.TB, r chatcore.Result) int64 {
	t.Helper()
	if len(r.Events) == 0 {
		t.Fatal("operation committed no event")
	}
	return r.Events[len(r.Events)-1].Index
}

// agentJoinsAndWrites is the agent side, through the core's operation API: the agent joins
// the chat and sends text. It returns the indexes of the join and the message, once the
// link has been handed both.
func (e *coreEnv) agentJoinsAndWrites(chatID, nickname, text string) (join, msg int64) {
	t := e.t
	t.Helper()
	ctx := t.Context()
	_, jr, err := e.core.Join(ctx, chatID, chatcore.JoinRequest{Type: chatcore.Agent, Nickname: nickname, UserID: "agent-7"})
	if err != nil {
		t.Fatal(err)
	}
	mr, err := e.core.SendMessage(ctx, chatID, "agent-7", text, "")
	if err != nil {
		t.Fatal(err)
	}
	join, msg = lastIndex(t, jr), lastIndex(t, mr)
	e.waitHandled(chatID, msg)
	return join, msg
}

// apnsTo returns the accepted APNs requests for a device token, by their "event" field.
func apnsTo(f *pushtest.APNs, token string) map[string][]pushtest.APNsRequest {
	out := map[string][]pushtest.APNsRequest{}
	for _, r := range f.Requests() {
		if r.DeviceToken == token {
			ev, _ := r.Payload["event"].(string)
			out[ev] = append(out[ev], r)
		}
	}
	return out
}

func alert(title, body string) map[string]any {
	return map[string]any{"alert": map[string]any{"title": title, "body": body}, "sound": "default"}
}

// TestCoreDrivenPush: chats created through the core, agent events driven through the
// core's operation API, pushes received and decoded by the provider fakes.
func TestCoreDrivenPush(t *testing.T) {
	rest := chatcore.DefaultOptions()
	rest.Settings.FlexPushOnJoin = true
	rest.Settings.FlexPushContent = []string{"secure-key", "session-id", "user-id"}
	e := startCore(t, map[string]chatcore.Options{"rest-async": rest})
	ctx := t.Context()

	// 1. A customer creates an async chat with push userData (both vocabularies of
	// gms-chat-v2.md §3.1, and a browser subscription) and is not connected; an agent joins
	// and writes. The provider receives exactly the right notifications.
	t.Run("backgrounded customer is pushed", func(t *testing.T) {
		e.t = t
		_, ep, p256, auth := e.wp.Subscribe()
		wsub, _ := json.Marshal(map[string]any{"endpoint": ep, "keys": map[string]string{"p256dh": p256, "auth": auth}})
		for _, tc := range []struct {
			name, service, token string
			ud                   map[string]string
			// want is the APNs payload per event type, given the chat (nil: no push).
			want func(cr chatcore.Created, join, msg int64) map[string]map[string]any
			// webpush: the decrypted Web Push message {title, body, data} per event type.
			webpush func(cr chatcore.Created, join, msg int64) map[string]map[string]any
		}{{
			name: "push_notification_* (CometD vocabulary), ru-RU", service: "customer-async", token: "ios-token-gms",
			ud: map[string]string{chatcore.PropAsyncMode: "true", "push_notification_deviceid": "ios-token-gms",
				"push_notification_type": "ios", "push_notification_language": "ru-RU"},
			// flex-push-content default (session-id, user-id); this vocabulary always carries
			// the event payload (transcriptPosition, nickname).
			want: func(cr chatcore.Created, join, msg int64) map[string]map[string]any {
				base := map[string]any{"chatId": cr.ChatID, "userId": cr.UserID, "alias": "node-1", "nickname": "Анна"}
				j, m := maps.Clone(base), maps.Clone(base)
				j["aps"], j["event"], j["transcriptPosition"] = alert("Чат", "Анна присоединился к чату"), "AgentJoined", fmt.Sprint(join)
				m["aps"], m["event"], m["transcriptPosition"] = alert("Анна", "Ваш заказ отправлен"), "Message", fmt.Sprint(msg)
				return map[string]map[string]any{"AgentJoined": j, "Message": m}
			},
		}, {
			name: "GCTI_Chat_PushSubscribe + GCTI_GMS_* (REST vocabulary), flex-push-on-join", service: "rest-async", token: "ios-token-rest",
			ud: map[string]string{chatcore.PropAsyncMode: "true", "GCTI_Chat_PushSubscribe": "true",
				"GCTI_GMS_PushDeviceId": "ios-token-rest", "GCTI_GMS_PushDeviceType": "ios"},
			// flex-push-content secure-key, session-id, user-id; no GCTI_GMS_PushIncludePayload,
			// so no event payload.
			want: func(cr chatcore.Created, _, _ int64) map[string]map[string]any {
				base := map[string]any{"chatId": cr.ChatID, "userId": cr.UserID, "secureKey": cr.SecureKey, "alias": "node-1"}
				j, m := maps.Clone(base), maps.Clone(base)
				j["aps"], j["event"] = alert("Chat", "Анна joined the chat"), "AgentJoined"
				m["aps"], m["event"] = alert("Анна", "Ваш заказ отправлен"), "Message"
				return map[string]map[string]any{"AgentJoined": j, "Message": m}
			},
		}, {
			name: "REST vocabulary without flex-push-on-join: no push", service: "customer-async", token: "ios-token-off",
			ud: map[string]string{chatcore.PropAsyncMode: "true", "GCTI_Chat_PushSubscribe": "true",
				"GCTI_GMS_PushDeviceId": "ios-token-off", "GCTI_GMS_PushDeviceType": "ios"},
		}, {
			name: "Web Push subscription, ru", service: "customer-async",
			ud: map[string]string{chatcore.PropAsyncMode: "true", "push_notification_type": "webpush",
				"push_notification_subscription": string(wsub), "push_notification_language": "ru"},
			webpush: func(cr chatcore.Created, join, msg int64) map[string]map[string]any {
				data := map[string]any{"chatId": cr.ChatID, "userId": cr.UserID, "alias": "node-1", "nickname": "Анна"}
				j, m := maps.Clone(data), maps.Clone(data)
				j["event"], j["transcriptPosition"] = "AgentJoined", fmt.Sprint(join)
				m["event"], m["transcriptPosition"] = "Message", fmt.Sprint(msg)
				return map[string]map[string]any{
					"AgentJoined": {"title": "Чат", "body": "Анна присоединился к чату", "data": j},
					"Message":     {"title": "Анна", "body": "Ваш заказ отправлен", "data": m},
				}
			},
		}} {
			t.Run(tc.name, func(t *testing.T) {
				e.t = t
				before, wpBefore, st0 := e.apnsGot(), e.wpGot(), e.link.Stats()
				cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: tc.service, Nickname: "Customer", UserData: tc.ud})
				if err != nil {
					t.Fatal(err)
				}
				e.pres.set(cr.ChatID, cr.UserID, false) // backgrounded: /meta/disconnect, no CometD connection
				join, msg := e.agentJoinsAndWrites(cr.ChatID, "Анна", "Ваш заказ отправлен")
				switch {
				case tc.want != nil:
					testwait.Until(t, 10*time.Second, "two APNs pushes", func() bool { return e.apnsGot() == before+2 })
					got := apnsTo(e.apns, tc.token)
					for typ, payload := range tc.want(cr, join, msg) {
						if len(got[typ]) != 1 {
							t.Fatalf("%s: %d pushes %+v", typ, len(got[typ]), got)
						}
						r := got[typ][0]
						if !reflect.DeepEqual(r.Payload, payload) {
							t.Errorf("%s payload\n got %v\nwant %v", typ, r.Payload, payload)
						}
						wantCollapse := "chat-" + cr.ChatID // every agent message is shown: no collapse id
						if typ == "Message" {
							wantCollapse = ""
						}
						if r.Topic != "com.example.chat" || r.PushType != "alert" || r.Priority != "10" || r.CollapseID != wantCollapse {
							t.Errorf("%s headers %+v", typ, r)
						}
					}
				case tc.webpush != nil:
					testwait.Until(t, 10*time.Second, "two Web Push messages", func() bool { return e.wpGot() == wpBefore+2 })
					got := map[string]map[string]any{}
					for _, m := range e.wp.Messages()[wpBefore:] {
						var p map[string]any
						if err := json.Unmarshal(m.Plaintext, &p); err != nil {
							t.Fatalf("decrypted body %q: %v", m.Plaintext, err)
						}
						if id, _ := p["id"].(string); id == "" {
							t.Errorf("no notification id in %v", p)
						}
						delete(p, "id")
						got[p["data"].(map[string]any)["event"].(string)] = p
					}
					if want := tc.webpush(cr, join, msg); !reflect.DeepEqual(got, want) {
						t.Errorf("web push\n got %v\nwant %v", got, want)
					}
				default:
					if st := e.link.Stats(); st.Notified != st0.Notified || e.apnsGot() != before {
						t.Fatalf("pushed without flex-push-on-join: %+v, apns %d", st, e.apnsGot())
					}
				}
				if st := e.link.Stats(); st.Suppressed != st0.Suppressed || st.SkippedDead != st0.SkippedDead || st.EnqueueFailed != st0.EnqueueFailed {
					t.Fatalf("stats %+v", st)
				}
			})
		}
	})

	// 2. The customer's CometD connection is live: nothing is pushed, and the counter says
	// suppressed. Once the app backgrounds, the next agent message is pushed.
	t.Run("connected customer is not pushed", func(t *testing.T) {
		e.t = t
		cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "customer-async", Nickname: "Customer",
			UserData: map[string]string{chatcore.PropAsyncMode: "true", "push_notification_deviceid": "ios-token-conn", "push_notification_type": "ios"}})
		if err != nil {
			t.Fatal(err)
		}
		e.pres.set(cr.ChatID, cr.UserID, true)
		before, st0 := e.apnsGot(), e.link.Stats()
		e.agentJoinsAndWrites(cr.ChatID, "Anna", "Hello")
		if st := e.link.Stats(); st.Suppressed != st0.Suppressed+2 || st.Notified != st0.Notified {
			t.Fatalf("stats %+v, before %+v", st, st0)
		}
		e.pres.set(cr.ChatID, cr.UserID, false) // /meta/disconnect: the app went to the background
		r, err := e.core.SendMessage(ctx, cr.ChatID, "agent-7", "Still there?", "")
		if err != nil {
			t.Fatal(err)
		}
		e.waitHandled(cr.ChatID, lastIndex(t, r))
		testwait.Until(t, 10*time.Second, "push after backgrounding", func() bool { return e.apnsGot() == before+1 })
		if got := apnsTo(e.apns, "ios-token-conn"); len(got) != 1 || len(got["Message"]) != 1 ||
			!reflect.DeepEqual(got["Message"][0].Payload["aps"], alert("Anna", "Still there?")) {
			t.Fatalf("pushes %+v", got)
		}
	})

	// 4. An APNs key rotated through the admin API is used by the next push the core drives.
	t.Run("rotated credentials used by the next push", func(t *testing.T) {
		e.t = t
		cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "customer-async", Nickname: "Customer",
			UserData: map[string]string{chatcore.PropAsyncMode: "true", "push_notification_deviceid": "ios-token-rot", "push_notification_type": "ios"}})
		if err != nil {
			t.Fatal(err)
		}
		e.agentJoinsAndWrites(cr.ChatID, "Anna", "before rotation")
		testwait.Until(t, 10*time.Second, "pushes with the first key", func() bool { return len(apnsTo(e.apns, "ios-token-rot")) == 2 })
		e.rotateAPNsKey() // from here the fake refuses tokens signed with the old key
		testwait.Until(t, 10*time.Second, "dispatcher idle", func() bool { st := e.d.Stats()[push.KindAPNs]; return st.Sent == st.Enqueued })
		before := e.d.Stats()[push.KindAPNs]
		r, err := e.core.SendMessage(ctx, cr.ChatID, "agent-7", "after rotation", "")
		if err != nil {
			t.Fatal(err)
		}
		e.waitHandled(cr.ChatID, lastIndex(t, r))
		testwait.Until(t, 10*time.Second, "push with the rotated key", func() bool { return len(apnsTo(e.apns, "ios-token-rot")["Message"]) == 2 })
		if m := apnsTo(e.apns, "ios-token-rot")["Message"][1]; !reflect.DeepEqual(m.Payload["aps"], alert("Anna", "after rotation")) {
			t.Fatalf("push %+v", m)
		}
		// Accepted at the first attempt: the new key was in use, no 403 and retry. (The fake
		// counts a request before the dispatcher has its answer: wait for the dispatcher.)
		testwait.Until(t, 10*time.Second, "dispatcher counts the send", func() bool { return e.d.Stats()[push.KindAPNs].Sent == before.Sent+1 })
		if st := e.d.Stats()[push.KindAPNs]; st.Sent != before.Sent+1 || !maps.Equal(st.Failed, before.Failed) || st.Retried != before.Retried {
			t.Fatalf("stats %+v, before %+v", st, before)
		}
	})
}

// TestCoreLiveness: the core asks the link when a push-enabled customer has been silent
// for flex-push-timeout (300 s by default); the link answers from presence and from a
// silent ping's delivery.
func TestCoreLiveness(t *testing.T) {
	const timeout = 300 * time.Second // flex-push-timeout default
	ud := func(token string) map[string]string {
		return map[string]string{chatcore.PropAsyncMode: "true", "push_notification_deviceid": token, "push_notification_type": "ios"}
	}

	// 3. The app was uninstalled: APNs answers 410 Unregistered. The ping finds the token
	// dead → not alive → the core re-arms once → after the second period it removes the
	// customer (quit reason 3).
	t.Run("dead token: customer removed after the re-armed period", func(t *testing.T) {
		e := startCore(t, nil)
		ctx := t.Context()
		e.apns.Always("ios-dead", pushtest.Reply{Status: 410, Reason: "Unregistered"})
		cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "customer-async", Nickname: "Customer", UserData: ud("ios-dead")})
		if err != nil {
			t.Fatal(err)
		}
		e.waitHandled(cr.ChatID, 1)
		testwait.Until(t, 10*time.Second, "flex-push-timeout armed", func() bool { return e.clock.armedAt(coreT0.Add(timeout)) })

		e.clock.Advance(timeout) // silent for flex-push-timeout: the core asks the link
		testwait.Until(t, 10*time.Second, "the ping's dead result", func() bool {
			return e.link.isDead(push.Target{Kind: push.KindAPNs, DeviceID: "ios-dead"})
		})
		testwait.Until(t, 10*time.Second, "re-armed once", func() bool { return e.clock.armedAt(coreT0.Add(2 * timeout)) })
		if st := e.d.Stats()[push.KindAPNs]; st.Dead != 1 || st.Sent != 0 {
			t.Fatalf("one ping, answered dead: %+v", st)
		}
		e.clock.Advance(timeout - time.Millisecond)
		if v, _ := e.core.Chat(cr.ChatID); !v.CustomerPresent || v.Ended {
			t.Fatalf("removed before the re-armed period ended: %+v", v)
		}
		e.clock.Advance(time.Millisecond)
		testwait.Until(t, 10*time.Second, "customer removed", func() bool { v, _ := e.core.Chat(cr.ChatID); return v.Ended && !v.CustomerPresent })

		page, err := e.core.EventsPage(ctx, cr.ChatID, 1, 0, 0)
		if err != nil || page.More {
			t.Fatalf("transcript read: more %v, %v", page.More, err)
		}
		evs := page.Events
		var got []string
		for _, ev := range evs {
			got = append(got, fmt.Sprintf("%s:%s:%s", ev.Type, ev.From.Type, ev.UserData[chatcore.KeyQuitReason]))
		}
		if want := []string{"ParticipantJoined:Client:", "ParticipantLeft:Client:3"}; !slices.Equal(got, want) {
			t.Fatalf("transcript %v, want %v", got, want)
		}
		if left := evs[len(evs)-1]; left.UTCTime != coreT0.Add(2*timeout).UnixMilli() || left.From.UserID != cr.UserID {
			t.Fatalf("removal %+v", left)
		}
		// The removal ends the chat; its ChatEnded push is not sent to the dead token.
		e.waitHandled(cr.ChatID, evs[len(evs)-1].Index)
		if st, ds := e.link.Stats(), e.d.Stats()[push.KindAPNs]; st.SkippedDead != 1 || st.Notified != 0 || ds.Dead != 1 || ds.Sent != 0 {
			t.Fatalf("link %+v, apns %+v", st, ds)
		}
	})

	// The token is found dead by an agent's push first: the liveness checks then answer
	// "not alive" without pushing, and the removal follows the same rule.
	t.Run("dead token found by a message: no ping, same removal", func(t *testing.T) {
		e := startCore(t, nil)
		ctx := t.Context()
		e.apns.Always("ios-gone", pushtest.Reply{Status: 410, Reason: "Unregistered"})
		cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "customer-async", Nickname: "Customer", UserData: ud("ios-gone")})
		if err != nil {
			t.Fatal(err)
		}
		e.agentJoinsAndWrites(cr.ChatID, "Anna", "Your order has shipped")
		testwait.Until(t, 10*time.Second, "the push's dead result", func() bool {
			return e.link.isDead(push.Target{Kind: push.KindAPNs, DeviceID: "ios-gone"})
		})
		r, err := e.core.SendMessage(ctx, cr.ChatID, "agent-7", "Hello?", "")
		if err != nil {
			t.Fatal(err)
		}
		e.waitHandled(cr.ChatID, lastIndex(t, r))
		st0, ds0 := e.link.Stats(), e.d.Stats()[push.KindAPNs]
		// Join, message, "Hello?": the last is skipped; the message too if the join's dead
		// result came back before it was committed.
		if st0.SkippedDead < 1 || st0.Notified+st0.SkippedDead != 3 || ds0.Sent != 0 {
			t.Fatalf("a message to a known-dead token was pushed: link %+v, apns %+v", st0, ds0)
		}
		testwait.Until(t, 10*time.Second, "flex-push-timeout armed", func() bool { return e.clock.armedAt(coreT0.Add(timeout)) })
		e.clock.Advance(timeout)
		testwait.Until(t, 10*time.Second, "re-armed once", func() bool { return e.clock.armedAt(coreT0.Add(2 * timeout)) })
		e.clock.Advance(timeout)
		testwait.Until(t, 10*time.Second, "customer removed", func() bool { v, _ := e.core.Chat(cr.ChatID); return v.Ended && !v.CustomerPresent })
		page, err := e.core.EventsPage(ctx, cr.ChatID, 1, 0, 0)
		if err != nil || page.More {
			t.Fatalf("transcript read: more %v, %v", page.More, err)
		}
		evs := page.Events
		var left []string
		for _, ev := range evs {
			if ev.Type == chatcore.EventParticipantLeft {
				left = append(left, fmt.Sprintf("%s:%s", ev.From.Type, ev.UserData[chatcore.KeyQuitReason]))
			}
		}
		// The customer is removed for protocol inactivity; the agent leaves with the chat
		// (removed by the server).
		if want := []string{"Client:3", "Agent:5"}; !slices.Equal(left, want) {
			t.Fatalf("left %v, want %v", left, want)
		}
		e.waitHandled(cr.ChatID, evs[len(evs)-1].Index)
		// No ping: both checks answered from the remembered dead token, and nothing was
		// enqueued for it after it was known dead (the chat-ended push was skipped too).
		if ds := e.d.Stats()[push.KindAPNs]; ds.Enqueued != ds0.Enqueued || ds.Sent != 0 {
			t.Fatalf("pushed after the token was known dead: %+v (before %+v)", ds, ds0)
		}
	})

	// A customer who registers for push later (GMS Update Data with the push keys) is from
	// then on under flex-push-timeout, not flex-disconnect-timeout (45 s), and is pushed.
	t.Run("push registered by updateData", func(t *testing.T) {
		e := startCore(t, nil)
		ctx := t.Context()
		cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "customer-async", Nickname: "Customer",
			UserData: map[string]string{chatcore.PropAsyncMode: "true"}})
		if err != nil {
			t.Fatal(err)
		}
		testwait.Until(t, 10*time.Second, "flex-disconnect-timeout armed", func() bool { return e.clock.armedAt(coreT0.Add(45 * time.Second)) })
		e.clock.Advance(10 * time.Second)
		if _, err := e.core.UpdateUserData(ctx, cr.ChatID, cr.UserID, ud("ios-late")); err != nil {
			t.Fatal(err)
		}
		// The core's timer loop keeps its earlier wake-up (45 s) and re-arms from there.
		e.clock.Advance(35 * time.Second)
		at := coreT0.Add(10*time.Second + timeout) // the update is a request: checked 300 s after it
		testwait.Until(t, 10*time.Second, "flex-push-timeout armed", func() bool { return e.clock.armedAt(at) })
		if v, _ := e.core.Chat(cr.ChatID); !v.CustomerPresent {
			t.Fatal("removed after flex-disconnect-timeout although push-enabled")
		}
		e.clock.Advance(timeout - 36*time.Second) // 1 s before the check
		_, msg := e.agentJoinsAndWrites(cr.ChatID, "Anna", "Here now")
		testwait.Until(t, 10*time.Second, "pushes", func() bool { return len(apnsTo(e.apns, "ios-late")["Message"]) == 1 })
		if p := apnsTo(e.apns, "ios-late")["Message"][0].Payload; p["transcriptPosition"] != fmt.Sprint(msg) {
			t.Fatalf("push %v", p)
		}
	})

	// The ping is delivered: alive, the timer restarts from the check; a live CometD
	// connection answers alive without a ping.
	t.Run("ping delivered: customer stays", func(t *testing.T) {
		e := startCore(t, nil)
		ctx := t.Context()
		cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "customer-async", Nickname: "Customer", UserData: ud("ios-live")})
		if err != nil {
			t.Fatal(err)
		}
		e.waitHandled(cr.ChatID, 1)
		testwait.Until(t, 10*time.Second, "flex-push-timeout armed", func() bool { return e.clock.armedAt(coreT0.Add(timeout)) })
		for i := 1; i <= 2; i++ {
			e.clock.Advance(timeout)
			testwait.Until(t, 10*time.Second, "ping", func() bool { return e.apnsGot() == int64(i) })
			testwait.Until(t, 10*time.Second, "next check armed", func() bool { return e.clock.armedAt(coreT0.Add(time.Duration(i+1) * timeout)) })
		}
		pings := apnsTo(e.apns, "ios-live")["Ping"]
		if len(pings) != 2 {
			t.Fatalf("pings %+v", pings)
		}
		want := map[string]any{"aps": map[string]any{"content-available": float64(1)}, "event": "Ping",
			"chatId": cr.ChatID, "userId": cr.UserID, "alias": "node-1"}
		if p := pings[0]; !reflect.DeepEqual(p.Payload, want) || p.PushType != "background" || p.Priority != "5" || p.CollapseID != "ping-"+cr.ChatID {
			t.Fatalf("ping %+v, want payload %v", p, want)
		}
		// The app comes to the foreground (CometD connected): alive without a ping.
		e.pres.set(cr.ChatID, cr.UserID, true)
		e.clock.Advance(timeout)
		testwait.Until(t, 10*time.Second, "next check armed", func() bool { return e.clock.armedAt(coreT0.Add(4 * timeout)) })
		if e.apnsGot() != 2 {
			t.Fatalf("pinged a connected customer: %d", e.apnsGot())
		}
		v, err := e.core.Chat(cr.ChatID)
		if err != nil || !v.CustomerPresent || v.Ended || v.LastIndex != 1 {
			t.Fatalf("customer should stay: %+v %v", v, err)
		}
		if st := e.link.Stats(); st != (Stats{}) {
			t.Fatalf("link %+v", st)
		}
	})
}

// TestCoreIdleAndEndPushes: pushes for the core's own timers (async idle alert and close)
// and for the end of a chat, one per thing that happened.
func TestCoreIdleAndEndPushes(t *testing.T) {
	o := chatcore.DefaultOptions()
	o.Settings.AsyncIdleAlert, o.Settings.AsyncIdleClose = 100*time.Second, 50*time.Second
	o.Settings.FlexPushTimeout, o.Settings.FlexDisconnectTimeout = 1728000*time.Second, 1728000*time.Second
	o.InactivityControl.MessageAlert, o.InactivityControl.MessageClose = "Are you still there?", "Closed for inactivity"
	quiet := o // no message-alert / message-close: the core commits no notices
	quiet.InactivityControl.MessageAlert, quiet.InactivityControl.MessageClose = "", ""
	e := startCore(t, map[string]chatcore.Options{"idle": o, "quiet": quiet})
	ctx := t.Context()
	service := "idle"
	chat := func(t *testing.T, token string) chatcore.Created {
		e.t = t
		cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: service, Nickname: "Customer",
			UserData: map[string]string{chatcore.PropAsyncMode: "true", "push_notification_deviceid": token, "push_notification_type": "ios"}})
		if err != nil {
			t.Fatal(err)
		}
		e.agentJoinsAndWrites(cr.ChatID, "Anna", "Your order has shipped")
		return cr
	}
	// pushed waits until the link has been handed everything up to the chat's last event
	// and the dispatcher has sent all it was given (so nothing is still on its way), then
	// wants exactly n pushes to token and returns them by event.
	pushed := func(t *testing.T, cr chatcore.Created, token string, n int) map[string][]pushtest.APNsRequest {
		t.Helper()
		v, err := e.core.Chat(cr.ChatID)
		if err != nil {
			t.Fatal(err)
		}
		e.waitHandled(cr.ChatID, v.LastIndex)
		testwait.Until(t, 10*time.Second, "dispatcher idle", func() bool { st := e.d.Stats()[push.KindAPNs]; return st.Sent == st.Enqueued })
		got := apnsTo(e.apns, token)
		if s := summary(got); len(s) != n {
			t.Fatalf("%d pushes, want %d: %v", len(s), n, s)
		}
		return got
	}
	body := func(r pushtest.APNsRequest) any {
		return r.Payload["aps"].(map[string]any)["alert"].(map[string]any)["body"]
	}

	t.Run("async idle alert and close", func(t *testing.T) {
		cr := chat(t, "ios-idle")
		e.clock.Advance(100 * time.Second)
		got := pushed(t, cr, "ios-idle", 3)
		if len(got["IdleAlert"]) != 1 || body(got["IdleAlert"][0]) != "Are you still there?" {
			t.Fatalf("alert %v", summary(got))
		}
		e.clock.Advance(50 * time.Second)
		testwait.Until(t, 10*time.Second, "chat closed", func() bool { v, _ := e.core.Chat(cr.ChatID); return v.Ended })
		// One push for the close, with message-close; not a ChatEnded per participant.
		got = pushed(t, cr, "ios-idle", 4)
		if len(got["IdleClose"]) != 1 || body(got["IdleClose"][0]) != "Closed for inactivity" {
			t.Fatalf("close %v", summary(got))
		}
	})

	t.Run("async idle close without message-close: one ChatEnded", func(t *testing.T) {
		service = "quiet"
		defer func() { service = "idle" }()
		start := e.clock.Now()
		cr := chat(t, "ios-quiet")
		e.clock.Advance(100 * time.Second) // the alert: no notice, the phase advances
		testwait.Until(t, 10*time.Second, "close armed", func() bool { return e.clock.armedAt(start.Add(150 * time.Second)) })
		e.clock.Advance(50 * time.Second)
		testwait.Until(t, 10*time.Second, "chat closed", func() bool { v, _ := e.core.Chat(cr.ChatID); return v.Ended })
		if got := pushed(t, cr, "ios-quiet", 3); len(got["ChatEnded"]) != 1 {
			t.Fatalf("pushed %v", summary(got))
		}
	})

	t.Run("customer logs out: no push", func(t *testing.T) {
		cr := chat(t, "ios-logout")
		if _, err := e.core.Disconnect(ctx, cr.ChatID, cr.UserID); err != nil {
			t.Fatal(err)
		}
		if got := pushed(t, cr, "ios-logout", 2); len(got["ChatEnded"]) != 0 {
			t.Fatalf("pushed %v", summary(got))
		}
	})

	t.Run("agent ends the chat: one ChatEnded", func(t *testing.T) {
		cr := chat(t, "ios-end")
		if _, err := e.core.EndChat(ctx, cr.ChatID, "agent-7"); err != nil {
			t.Fatal(err)
		}
		if got := pushed(t, cr, "ios-end", 3); len(got["ChatEnded"]) != 1 || body(got["ChatEnded"][0]) != "The chat has ended" {
			t.Fatalf("pushed %v", summary(got))
		}
	})
}

// summary lists pushes as "event(#transcriptPosition "body")", sorted.
func summary(got map[string][]pushtest.APNsRequest) []string {
	var sum []string
	for typ, rs := range got {
		for _, r := range rs {
			var body any
			if a, ok := r.Payload["aps"].(map[string]any)["alert"].(map[string]any); ok {
				body = a["body"]
			}
			sum = append(sum, fmt.Sprintf("%s(#%v %q)", typ, r.Payload["transcriptPosition"], body))
		}
	}
	slices.Sort(sum)
	return sum
}

// TestCoreHiddenEventsNotPushed: a coaching (INT) or monitoring (VIP) message never reaches
// the customer's device; the ALL message after it does.
func TestCoreHiddenEventsNotPushed(t *testing.T) {
	e := startCore(t, nil)
	ctx := t.Context()
	cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "customer-async", Nickname: "Customer", UserData: map[string]string{
		chatcore.PropAsyncMode: "true", "push_notification_deviceid": "ios-token-hidden", "push_notification_type": "ios"}})
	if err != nil {
		t.Fatal(err)
	}
	e.pres.set(cr.ChatID, cr.UserID, false)
	before := e.apnsGot()
	e.agentJoinsAndWrites(cr.ChatID, "Ann", "first")
	testwait.Until(t, 10*time.Second, "join and message pushed", func() bool { return e.apnsGot() == before+2 })
	if _, _, err := e.core.Join(ctx, cr.ChatID, chatcore.JoinRequest{Type: chatcore.Supervisor, Nickname: "Sue", UserID: "sue", Visibility: chatcore.VisibilityVIP}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.core.SendVisible(ctx, cr.ChatID, "agent-7", "coaching note", "", chatcore.VisibilityInternal); err != nil {
		t.Fatal(err)
	}
	if _, err := e.core.SendVisible(ctx, cr.ChatID, "sue", "monitor note", "", chatcore.VisibilityVIP); err != nil {
		t.Fatal(err)
	}
	r, err := e.core.SendMessage(ctx, cr.ChatID, "agent-7", "visible again", "")
	if err != nil {
		t.Fatal(err)
	}
	e.waitHandled(cr.ChatID, lastIndex(t, r))
	testwait.Until(t, 10*time.Second, "the visible message pushed", func() bool { return e.apnsGot() >= before+3 })
	got := apnsTo(e.apns, "ios-token-hidden")
	if n := len(got["Message"]); n != 2 {
		t.Fatalf("%d Message pushes, want 2 (first, visible again): %+v", n, got)
	}
	if e.apnsGot() != before+3 {
		t.Fatalf("%d pushes, want 3: the supervisor's silent join or a hidden message was pushed", e.apnsGot()-before)
	}
}
