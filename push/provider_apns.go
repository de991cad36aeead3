package push

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/token"
)

// APNs hosts.
const (
	APNsHostProduction = apns2.HostProduction
	APNsHostSandbox    = apns2.HostDevelopment
)

// apnsProvider holds ONE apns2 client (one HTTP/2 connection pool) and, for token auth, ONE
// token per credential for the process lifetime: Apple answers 429
// TooManyProviderTokenUpdates when a key's token is refreshed more often than every 20
// minutes, and treats connection churn as abuse.
type apnsProvider struct {
	client *apns2.Client
	topic  string
}

// APNsOptions tune the APNs transport (tests point it at a local HTTP/2 fake).
type APNsOptions struct {
	// ProductionHost and SandboxHost override Apple's hosts.
	ProductionHost, SandboxHost string
	// TLS, when set, is the base TLS config (for a local fake: its RootCAs).
	TLS *tls.Config
	// Tokens returns the shared provider token of a key (the Registry keeps one per
	// team, key id and key, whatever the number of credentials using it).
	Tokens func(c APNsCredential, key *ecdsa.PrivateKey) *token.Token
}

func newAPNsProvider(c APNsCredential, k CredentialKey, o APNsOptions) (*apnsProvider, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLS != nil {
		tlsCfg = o.TLS.Clone()
	}
	var client *apns2.Client
	if len(c.AuthKeyP8) > 0 {
		key, err := c.authKey()
		if err != nil {
			return nil, err
		}
		var tok *token.Token
		if o.Tokens != nil {
			tok = o.Tokens(c, key)
		} else {
			tok = &token.Token{AuthKey: key, KeyID: c.KeyID, TeamID: c.TeamID}
		}
		// Sign once now so a bad key fails here, not as an empty bearer on every push
		// (GenerateIfExpired discards the signing error).
		if tok.GenerateIfExpired() == "" {
			if _, err := tok.Generate(); err != nil {
				return nil, credErr("apns token signing: %v", err)
			}
		}
		client = &apns2.Client{Token: tok}
	} else {
		cert, err := c.certificate()
		if err != nil {
			return nil, err
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
		client = &apns2.Client{Certificate: cert}
	}
	// net/http's own HTTP/2 (Protocols: HTTP/2 only, so ALPN offers just "h2" as Apple
	// requires) replaces the deprecated x/net/http2.Transport fields; SendPingTimeout is the
	// health check that drops a silently dead connection instead of waiting for the
	// client timeout.
	protocols := new(http.Protocols)
	protocols.SetHTTP2(true)
	client.HTTPClient = &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:     tlsCfg,
			DialContext:         (&net.Dialer{Timeout: apns2.TLSDialTimeout, KeepAlive: apns2.TCPKeepAlive}).DialContext,
			TLSHandshakeTimeout: apns2.TLSDialTimeout,
			ForceAttemptHTTP2:   true,
			Protocols:           protocols,
			HTTP2: &http.HTTP2Config{
				SendPingTimeout: apns2.ReadIdleTimeout,
				PingTimeout:     10 * time.Second,
			},
		},
		Timeout: apns2.HTTPClientTimeout,
	}
	if c.environment(k) == "sandbox" {
		client.Host = firstNonEmpty(o.SandboxHost, APNsHostSandbox)
	} else {
		client.Host = firstNonEmpty(o.ProductionHost, APNsHostProduction)
	}
	return &apnsProvider{client: client, topic: c.Topic}, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (p *apnsProvider) Kind() Kind   { return KindAPNs }
func (p *apnsProvider) Close() error { p.client.CloseIdleConnections(); return nil }

// apnsPayload builds the JSON body: aps plus the data keys at top level, as iOS apps read
// them from userInfo. It is written by hand (no map, no reflection): this runs once per
// push on the hot path.
func apnsPayload(n *Notification) ([]byte, bool) {
	silent := n.Title == "" && n.Body == ""
	b := make([]byte, 0, 96+len(n.Title)+len(n.Body)+32*len(n.Data))
	if silent {
		b = append(b, `{"aps":{"content-available":1}`...)
	} else {
		b = append(b, `{"aps":{"alert":{`...)
		if n.Title != "" {
			b = append(b, `"title":`...)
			b = appendJSONString(b, n.Title)
			b = append(b, ',')
		}
		b = append(b, `"body":`...)
		b = appendJSONString(b, n.Body)
		b = append(b, `},"sound":"default"}`...)
	}
	for k, v := range n.Data {
		if k == "aps" {
			continue
		}
		b = append(b, ',')
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, v)
	}
	return append(b, '}'), silent
}

// appendJSONString appends s as a JSON string (RFC 8259 escaping; invalid UTF-8 becomes
// U+FFFD, as encoding/json does).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			b = append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

func (p *apnsProvider) Send(ctx context.Context, n *Notification) error {
	if n.Target.DeviceID == "" {
		return &SendError{Class: ClassRejected, Reason: "MissingDeviceToken", Err: ErrInvalid}
	}
	payload, silent := apnsPayload(n)
	an := &apns2.Notification{
		DeviceToken: n.Target.DeviceID,
		Topic:       p.topic,
		Payload:     payload,
		CollapseID:  apnsCollapse(n.Collapse),
		Expiration:  time.Now().Add(n.TTL),
		Priority:    apns2.PriorityHigh,
		PushType:    apns2.PushTypeAlert,
	}
	if silent {
		// Apple requires priority 5 and push type background for content-available pushes.
		an.Priority, an.PushType = apns2.PriorityLow, apns2.PushTypeBackground
	} else if n.Priority == PriorityNormal {
		an.Priority = apns2.PriorityLow
	}
	res, err := p.client.PushWithContext(ctx, an)
	if err != nil {
		return &SendError{Class: ClassTransient, Reason: "network", Err: err}
	}
	if res.StatusCode == http.StatusOK {
		return nil
	}
	return classifyAPNs(res.StatusCode, res.Reason)
}

// apnsCollapse keeps apns-collapse-id within Apple's 64-byte limit.
func apnsCollapse(c string) string {
	if len(c) > 64 {
		return c[:64]
	}
	return c
}

// classifyAPNs maps Apple's status and reason (Table "Values for the APNs JSON reason key").
func classifyAPNs(status int, reason string) *SendError {
	if reason == "" {
		reason = strconv.Itoa(status)
	}
	e := &SendError{Reason: reason, Status: status}
	switch {
	case status == http.StatusGone, reason == apns2.ReasonUnregistered,
		reason == apns2.ReasonBadDeviceToken, reason == apns2.ReasonDeviceTokenNotForTopic:
		e.Class = ClassDead
	case status == http.StatusTooManyRequests, status >= 500,
		reason == apns2.ReasonExpiredProviderToken, reason == apns2.ReasonIdleTimeout:
		// ExpiredProviderToken: the shared token is regenerated on the next push.
		e.Class = ClassTransient
	default:
		// InvalidProviderToken, BadCertificate, BadTopic, PayloadTooLarge, ...: a
		// configuration or payload problem; retrying will not help.
		e.Class = ClassRejected
	}
	return e
}
