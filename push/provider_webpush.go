package push

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
)

// DefaultWebPushHosts are the push services browsers hand out endpoints for. A Web Push
// endpoint comes from the customer, so without an allow-list the server would POST to any
// URL it is given (server-side request forgery). Entries starting with "." match subdomains.
var DefaultWebPushHosts = []string{
	"fcm.googleapis.com", "android.googleapis.com", // Chrome, Edge on Android
	".push.services.mozilla.com",            // Firefox
	".notify.windows.com",                   // Edge (WNS)
	"web.push.apple.com", ".push.apple.com", // Safari
}

// webPushPayload is what the service worker receives (decrypted) as event.data.json().
type webPushPayload struct {
	ID    string            `json:"id"`
	Title string            `json:"title,omitempty"`
	Body  string            `json:"body,omitempty"`
	Data  map[string]string `json:"data,omitempty"`
}

type webPushProvider struct {
	vapid        VAPIDCredential
	subscriber   string // what webpush-go wants: the address without "mailto:", or an https URL
	client       *http.Client
	allowedHosts []string
}

func newWebPushProvider(v VAPIDCredential, client *http.Client, allowed []string) *webPushProvider {
	sub := NormalizeVAPIDSubject(v.Subject)
	// webpush-go v1.4.0 prepends "mailto:" to anything not starting with "https:".
	sub = strings.TrimPrefix(sub, "mailto:")
	return &webPushProvider{vapid: v, subscriber: sub, client: client, allowedHosts: allowed}
}

func (p *webPushProvider) Kind() Kind   { return KindWebPush }
func (p *webPushProvider) Close() error { p.client.CloseIdleConnections(); return nil }

// hostAllowed applies the allow-list to an endpoint URL.
func hostAllowed(allowed []string, u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	if ip := net.ParseIP(host); ip != nil && !slicesContainsFold(allowed, host) {
		return false
	}
	for _, a := range allowed {
		a = strings.ToLower(a)
		if host == a || (strings.HasPrefix(a, ".") && strings.HasSuffix(host, a)) {
			return true
		}
	}
	return false
}

func slicesContainsFold(s []string, v string) bool {
	for _, x := range s {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// webPushTopic maps a collapse key onto RFC 8030's Topic: at most 32 characters of the
// URL-safe base64 alphabet. Anything else is hashed.
func webPushTopic(c string) string {
	if c == "" {
		return ""
	}
	if len(c) <= 32 && strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == "" {
		return c
	}
	h := sha256.Sum256([]byte(c))
	return base64.RawURLEncoding.EncodeToString(h[:24]) // 32 characters
}

// webPushRecordSize picks the aes128gcm record size: the smallest multiple of 256 that
// holds the payload. webpush-go pads every message to the record size, 4,096 bytes by
// default, which multiplies the bytes sent per chat push by ~20 for no benefit; rounding to
// 256 keeps message lengths coarse (so length leaks little) at a fraction of the cost.
func webPushRecordSize(payloadLen int) (uint32, error) {
	// 86 bytes of header (salt 16, rs 4, idlen 1, key 65), 16 bytes of tag, 1 delimiter.
	need := payloadLen + 86 + 16 + 1
	rs := (need + 255) / 256 * 256
	if rs > int(webpush.MaxRecordSize) {
		return 0, fmt.Errorf("payload %d bytes exceeds the 4 KiB Web Push record", payloadLen)
	}
	return uint32(rs), nil
}

func (p *webPushProvider) Send(ctx context.Context, n *Notification) error {
	s := n.Target.WebPush
	if s == nil || s.Endpoint == "" {
		return &SendError{Class: ClassRejected, Reason: "no_subscription", Err: ErrInvalid}
	}
	u, err := url.Parse(s.Endpoint)
	if err != nil || u.Scheme != "https" || !hostAllowed(p.allowedHosts, u) {
		// Not a push service we talk to: forget the subscription rather than retry.
		return &SendError{Class: ClassDead, Reason: "endpoint_not_allowed", Err: fmt.Errorf("web push endpoint host not allowed: %w", ErrInvalid)}
	}
	body, err := json.Marshal(webPushPayload{ID: n.ID, Title: n.Title, Body: n.Body, Data: n.Data})
	if err != nil {
		return &SendError{Class: ClassRejected, Reason: "payload", Err: err}
	}
	rs, err := webPushRecordSize(len(body))
	if err != nil {
		return &SendError{Class: ClassRejected, Reason: "PayloadTooLarge", Err: err}
	}
	urgency := webpush.UrgencyHigh
	if n.Priority == PriorityNormal {
		urgency = webpush.UrgencyNormal
	}
	// json.Marshal's result may have spare capacity; webpush-go v1.4.0 appends padding in
	// place, so give it a slice of its own with cap == len.
	msg := body[:len(body):len(body)]
	resp, err := webpush.SendNotificationWithContext(ctx, msg, &webpush.Subscription{
		Endpoint: s.Endpoint, Keys: webpush.Keys{P256dh: s.P256dh, Auth: s.Auth},
	}, &webpush.Options{
		HTTPClient:      p.client,
		RecordSize:      rs,
		Subscriber:      p.subscriber,
		Topic:           webPushTopic(n.Collapse),
		TTL:             int(max(n.TTL, time.Second) / time.Second),
		Urgency:         urgency,
		VAPIDPublicKey:  p.vapid.PublicKey,
		VAPIDPrivateKey: p.vapid.PrivateKey,
	})
	if err != nil {
		if resp == nil && ctx.Err() == nil && isKeyError(err) {
			return &SendError{Class: ClassDead, Reason: "bad_subscription_keys", Err: err}
		}
		return &SendError{Class: ClassTransient, Reason: "network", Err: err}
	}
	defer drainClose(resp.Body)
	switch resp.StatusCode {
	case http.StatusOK, http.StatusCreated, http.StatusAccepted:
		return nil
	case http.StatusRequestEntityTooLarge:
		return &SendError{Class: ClassRejected, Reason: "PayloadTooLarge", Status: resp.StatusCode}
	case http.StatusUnauthorized, http.StatusForbidden:
		return &SendError{Class: ClassRejected, Reason: "vapid_rejected", Status: resp.StatusCode}
	}
	return classifyStatus(resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
}

// isKeyError tells a malformed subscription (bad p256dh/auth) from a network failure:
// webpush-go fails before any request for those.
func isKeyError(err error) bool {
	var ce base64.CorruptInputError
	if errors.As(err, &ce) {
		return true
	}
	m := err.Error()
	return strings.Contains(m, "Public key is not a valid point") || strings.Contains(m, "illegal base64")
}
