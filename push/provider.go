package push

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind names a push provider family. The values are the ones chatgate accepts in
// push_notification_type / GCTI_GMS_PushDeviceType after normalisation (see ParseKind).
type Kind string

const (
	KindWebPush Kind = "webpush"
	KindAPNs    Kind = "apns"
	KindFCM     Kind = "fcm"
	KindHTTP    Kind = "customhttp"
)

// Kinds lists every provider kind, in a stable order (for stats and docs).
var Kinds = []Kind{KindWebPush, KindAPNs, KindFCM, KindHTTP}

// ParseKind maps the device types GMS clients send to a provider kind: "ios"/"apns" → APNs,
// "fcm"/"gcm"/"android" → FCM (the legacy GCM API is gone; FCM tokens are what apps have),
// "customhttp"/"httpcb" → custom HTTP, "webpush"/"web" → Web Push.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "webpush", "web", "web-push":
		return KindWebPush, nil
	case "apns", "ios":
		return KindAPNs, nil
	case "fcm", "gcm", "android":
		return KindFCM, nil
	case "customhttp", "httpcb", "http":
		return KindHTTP, nil
	}
	return "", fmt.Errorf("push: unknown device type %q: %w", s, ErrInvalid)
}

// Priority says how urgently the device should be woken.
type Priority int

const (
	// PriorityHigh wakes the device now (APNs priority 10, FCM high, Web Push Urgency high).
	PriorityHigh Priority = iota
	// PriorityNormal lets the platform batch it (APNs 5, FCM normal, Web Push normal).
	PriorityNormal
)

// WebPushSubscription is a browser PushSubscription (endpoint and keys, base64url).
type WebPushSubscription struct {
	Endpoint string `json:"endpoint"`
	P256dh   string `json:"p256dh"`
	Auth     string `json:"auth"`
}

// Target says where a notification goes and which credential sends it.
type Target struct {
	Kind Kind
	// Provider names the credential configuration (push_notification_provider); "" means
	// DefaultProviderName.
	Provider string
	// Debug selects the debug variant of the credential (push_notification_debug): APNs
	// sandbox, the debug FCM project, the debug custom HTTP URL.
	Debug bool
	// DeviceID is the APNs device token, FCM registration token or custom HTTP deviceId.
	DeviceID string
	// WebPush is the subscription for KindWebPush.
	WebPush *WebPushSubscription
	// Authorization, when set for KindHTTP, is sent as the Authorization header instead of
	// the credential's.
	Authorization string
}

// String identifies the target in logs without secrets (device ids are truncated).
func (t Target) String() string {
	id := t.DeviceID
	if t.WebPush != nil {
		id = t.WebPush.Endpoint
	}
	if len(id) > 12 {
		id = id[:12] + "…"
	}
	return fmt.Sprintf("%s/%s/%s", t.Kind, t.providerName(), id)
}

func (t Target) providerName() string {
	if t.Provider == "" {
		return DefaultProviderName
	}
	return t.Provider
}

// Resend asks for reliable delivery: after a successful send the notification is sent again
// every Delay until Ack is called with its ID, at most MaxAttempts resends.
type Resend struct {
	Delay       time.Duration
	MaxAttempts int
}

// Notification is one push to one target.
type Notification struct {
	// ID identifies the notification for Ack and results; Enqueue assigns one when empty.
	ID     string
	Target Target
	// Title and Body are the visible texts; empty Title and Body send a silent
	// (background) notification where the platform supports it.
	Title, Body string
	// Data is application data carried with the push (event type, chat id, user id, ...).
	Data map[string]string
	// Collapse groups notifications so the newest replaces older pending ones (APNs
	// collapse id, FCM collapse key, Web Push Topic).
	Collapse string
	Priority Priority
	// TTL is how long the push service should keep it for an offline device; 0 means the
	// dispatcher's DefaultTTL (never "deliver now or drop").
	TTL time.Duration
	// Resend, when non-nil, asks for resend-until-acknowledged.
	Resend *Resend
	// MaxAttempts, when > 0, lowers the dispatcher's MaxAttempts for this notification
	// (a liveness ping wants one quick answer, not an hour of retries).
	MaxAttempts int
}

// Provider sends one notification with one credential. Implementations are safe for
// concurrent use and classify every failure as a *SendError.
type Provider interface {
	Kind() Kind
	Send(ctx context.Context, n *Notification) error
	// Close releases idle connections. In-flight sends may still complete.
	Close() error
}

// Class is how the dispatcher treats a failed send.
type Class int

const (
	// ClassTransient failures are retried with backoff (429, 5xx, network errors).
	ClassTransient Class = iota
	// ClassDead means the device or subscription no longer exists; never retry, forget it.
	ClassDead
	// ClassRejected failures will not succeed by retrying (bad payload, bad credential),
	// but do not prove the device is gone.
	ClassRejected
)

func (c Class) String() string {
	switch c {
	case ClassTransient:
		return "transient"
	case ClassDead:
		return "dead"
	case ClassRejected:
		return "rejected"
	}
	return "unknown"
}

// SendError is a classified provider failure.
type SendError struct {
	Class Class
	// Reason is the provider's own error name (APNs reason, FCM errorCode, HTTP status
	// text); it labels the failure counters.
	Reason string
	// Status is the HTTP status, 0 for network errors.
	Status int
	// RetryAfter is the provider's Retry-After, if any.
	RetryAfter time.Duration
	Err        error
}

func (e *SendError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("push: %s failure %s (status %d): %v", e.Class, e.Reason, e.Status, e.Err)
	}
	return fmt.Sprintf("push: %s failure %s (status %d)", e.Class, e.Reason, e.Status)
}

func (e *SendError) Unwrap() error { return e.Err }

// Is lets callers test the class with errors.Is(err, ErrDead) etc.
func (e *SendError) Is(target error) bool {
	switch target {
	case ErrDead:
		return e.Class == ClassDead
	case ErrTransient:
		return e.Class == ClassTransient
	case ErrRejected:
		return e.Class == ClassRejected
	}
	return false
}

// Sentinel errors.
var (
	ErrDead       = errors.New("push: device or subscription is gone")
	ErrTransient  = errors.New("push: transient failure")
	ErrRejected   = errors.New("push: rejected")
	ErrQueueFull  = errors.New("push: queue full")
	ErrClosed     = errors.New("push: dispatcher closed")
	ErrNoProvider = errors.New("push: no credential for target")
	ErrInvalid    = errors.New("push: invalid")
)

// DefaultProviderName is the credential name used when a target names none.
const DefaultProviderName = "default"
