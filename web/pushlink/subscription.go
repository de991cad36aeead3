package pushlink

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/chatgate/chatgate/push"
)

// Vocabulary says which userData family a subscription came from (gms-chat-v2.md §3.1).
type Vocabulary string

const (
	// VocabularyGMS is the CometD/mobile family: push_notification_* keys.
	VocabularyGMS Vocabulary = "push_notification"
	// VocabularyChatServer is the REST family: GCTI_Chat_PushSubscribe + GCTI_GMS_*.
	VocabularyChatServer Vocabulary = "GCTI_GMS"
)

// Subscription is a customer's push registration, read from chat userData.
type Subscription struct {
	Target     push.Target
	Vocabulary Vocabulary
	Language   string
	// Resend asks for resend-until-acknowledged (GCTI_GMS_PushResend).
	Resend bool
	// IncludePayload adds the event (text, nickname, index) to the push data
	// (GCTI_GMS_PushIncludePayload; always on for the push_notification family).
	IncludePayload bool
	// ToActiveClient, when set by the chat, overrides the
	// push_notification_to_active_client setting.
	ToActiveClient *bool
}

// ErrNoSubscription means the userData asks for no push (or for "comet" delivery only).
var ErrNoSubscription = errors.New("pushlink: no push subscription in userData")

// ErrBadSubscription wraps every malformed push registration.
var ErrBadSubscription = errors.New("pushlink: malformed push subscription")

// lookup reads userData in the exact snake_case spelling first, then the camelCase variant
// some clients send (gms §9.8), then a case-insensitive match.
func lookup(ud map[string]string, snake string) (string, bool) {
	if v, ok := ud[snake]; ok {
		return v, true
	}
	camel := toCamel(snake)
	if v, ok := ud[camel]; ok {
		return v, true
	}
	for k, v := range ud {
		if strings.EqualFold(k, snake) || strings.EqualFold(k, camel) {
			return v, true
		}
	}
	return "", false
}

// toCamel: push_notification_deviceid → pushNotificationDeviceid. The usual camelCase
// spellings (pushNotificationDeviceId) differ only in case and are found by the
// case-insensitive pass.
func toCamel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

func truthy(v string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	return err == nil && b
}

// maxFieldLen bounds any single push field taken from userData (device tokens are < 200
// bytes, Web Push endpoints < 1 KiB).
const maxFieldLen = 2048

// ParseSubscription reads a push registration from requestChat/updateData userData.
// flexPushOnJoin is the flex-push-on-join setting: without it the REST family
// (GCTI_Chat_PushSubscribe) is ignored, as Chat Server does.
//
// Web Push registrations use push_notification_type=webpush and either
// push_notification_subscription = the JSON of PushSubscription.toJSON()
// ({"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}) or
// push_notification_deviceid = endpoint plus push_notification_p256dh and
// push_notification_auth.
func ParseSubscription(ud map[string]string, flexPushOnJoin bool) (Subscription, error) {
	var s Subscription
	if dev, ok := lookup(ud, "push_notification_deviceid"); ok && dev != "" || hasKey(ud, "push_notification_subscription") {
		s.Vocabulary, s.IncludePayload = VocabularyGMS, true
		typ, _ := lookup(ud, "push_notification_type")
		dbg, _ := lookup(ud, "push_notification_debug")
		s.Target.Provider, _ = lookup(ud, "push_notification_provider")
		s.Language, _ = lookup(ud, "push_notification_language")
		s.Target.Debug = truthy(dbg)
		if v, ok := lookup(ud, "push_notification_to_active_client"); ok {
			b := truthy(v)
			s.ToActiveClient = &b
		}
		if v, ok := lookup(ud, "GCTI_GMS_PushResend"); ok {
			s.Resend = truthy(v)
		}
		return s, s.fill(ud, typ, dev)
	}
	sub, _ := lookup(ud, "GCTI_Chat_PushSubscribe")
	dev, _ := lookup(ud, "GCTI_GMS_PushDeviceId")
	if !truthy(sub) || dev == "" {
		return s, ErrNoSubscription
	}
	if !flexPushOnJoin {
		return s, fmt.Errorf("%w: GCTI_Chat_PushSubscribe needs flex-push-on-join=true", ErrNoSubscription)
	}
	s.Vocabulary = VocabularyChatServer
	typ, _ := lookup(ud, "GCTI_GMS_PushDeviceType")
	s.Target.Provider, _ = lookup(ud, "GCTI_GMS_PushProvider")
	if v, ok := lookup(ud, "GCTI_GMS_PushDebug"); ok {
		s.Target.Debug = truthy(v)
	}
	s.Language, _ = lookup(ud, "push_notification_language")
	r, _ := lookup(ud, "GCTI_GMS_PushResend")
	p, _ := lookup(ud, "GCTI_GMS_PushIncludePayload")
	s.Resend, s.IncludePayload = truthy(r), truthy(p)
	if typ == "" {
		typ = "customhttp" // the only type the REST samples use
	}
	return s, s.fill(ud, typ, dev)
}

func hasKey(ud map[string]string, k string) bool { _, ok := lookup(ud, k); return ok }

func (s *Subscription) fill(ud map[string]string, typ, dev string) error {
	typ = strings.ToLower(strings.TrimSpace(typ))
	if typ == "comet" {
		return fmt.Errorf("%w: type comet is delivered over CometD", ErrNoSubscription)
	}
	if typ == "" {
		typ = "fcm" // what GMS mobile clients send
		if _, ok := lookup(ud, "push_notification_subscription"); ok {
			typ = "webpush"
		}
	}
	k, err := push.ParseKind(typ)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSubscription, err)
	}
	s.Target.Kind = k
	if len(dev) > maxFieldLen || len(s.Target.Provider) > 64 || len(s.Language) > 35 {
		return fmt.Errorf("%w: field too long", ErrBadSubscription)
	}
	if s.Target.Provider != "" {
		if err := (push.CredentialKey{Kind: k, Name: s.Target.Provider}).Validate(); err != nil {
			return fmt.Errorf("%w: provider name: %w", ErrBadSubscription, err)
		}
	}
	if k != push.KindWebPush {
		if dev == "" {
			return fmt.Errorf("%w: no device id", ErrBadSubscription)
		}
		s.Target.DeviceID = dev
		return nil
	}
	ws := push.WebPushSubscription{Endpoint: dev}
	if raw, ok := lookup(ud, "push_notification_subscription"); ok {
		if len(raw) > 4*maxFieldLen {
			return fmt.Errorf("%w: subscription too long", ErrBadSubscription)
		}
		var js struct {
			Endpoint string `json:"endpoint"`
			Keys     struct {
				P256dh string `json:"p256dh"`
				Auth   string `json:"auth"`
			} `json:"keys"`
		}
		if err := json.Unmarshal([]byte(raw), &js); err != nil {
			return fmt.Errorf("%w: push_notification_subscription is not PushSubscription JSON: %v", ErrBadSubscription, err)
		}
		ws = push.WebPushSubscription{Endpoint: js.Endpoint, P256dh: js.Keys.P256dh, Auth: js.Keys.Auth}
	} else {
		ws.P256dh, _ = lookup(ud, "push_notification_p256dh")
		ws.Auth, _ = lookup(ud, "push_notification_auth")
	}
	if err := checkWebPush(ws); err != nil {
		return err
	}
	s.Target.WebPush = &ws
	s.Target.DeviceID = ""
	return nil
}

// checkWebPush validates a browser subscription up front, so a bad one is refused when
// the chat is created instead of failing every push later.
func checkWebPush(ws push.WebPushSubscription) error {
	u, err := url.Parse(ws.Endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || len(ws.Endpoint) > maxFieldLen {
		return fmt.Errorf("%w: web push endpoint must be an https URL", ErrBadSubscription)
	}
	p, err := b64(ws.P256dh)
	if err != nil || len(p) != 65 || p[0] != 4 {
		return fmt.Errorf("%w: p256dh must be a base64url uncompressed P-256 point", ErrBadSubscription)
	}
	a, err := b64(ws.Auth)
	if err != nil || len(a) != 16 {
		return fmt.Errorf("%w: auth must be 16 bytes of base64url", ErrBadSubscription)
	}
	return nil
}

func b64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}
