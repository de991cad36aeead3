package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"
)

// FCMEndpoint is the FCM HTTP v1 base URL.
const FCMEndpoint = "https://fcm.googleapis.com"

const fcmScope = "https://www.googleapis.com/auth/firebase.messaging"

// fcmProvider calls the FCM HTTP v1 API directly: a service-account JWT is exchanged for
// an OAuth2 access token at the key's token_uri (golang.org/x/oauth2/jwt, cached until it
// expires), then one POST /v1/projects/{project}/messages:send per notification. The
// Firebase Admin SDK would do the same but doubles the binary (+33.5 MB measured: its root
// package, the only way to a messaging client, links Firestore, Cloud Storage and gRPC) and
// retries inside Send on top of the dispatcher's retries; see docs/push.md.
type fcmProvider struct {
	client   *http.Client
	sendURL  string
	newToken func() oauth2.TokenSource

	mu sync.Mutex
	ts oauth2.TokenSource
}

func newFCMProvider(c FCMCredential, client *http.Client, endpoint string) (*fcmProvider, error) {
	sa, err := c.parse(nil)
	if err != nil {
		return nil, err
	}
	conf := &jwt.Config{
		Email: sa.ClientEmail, PrivateKey: []byte(sa.PrivateKey), PrivateKeyID: sa.PrivateKeyID,
		Scopes: []string{fcmScope}, TokenURL: sa.TokenURI,
	}
	// The context carries the HTTP client for token requests; it is never cancelled,
	// each token request is bounded by the client's timeout.
	tctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	p := &fcmProvider{
		client:   client,
		sendURL:  strings.TrimRight(firstNonEmpty(endpoint, FCMEndpoint), "/") + "/v1/projects/" + sa.ProjectID + "/messages:send",
		newToken: func() oauth2.TokenSource { return conf.TokenSource(tctx) },
	}
	p.ts = p.newToken()
	return p, nil
}

func (p *fcmProvider) Kind() Kind   { return KindFCM }
func (p *fcmProvider) Close() error { p.client.CloseIdleConnections(); return nil }

func (p *fcmProvider) tokenSource() oauth2.TokenSource {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ts
}

// invalidate drops a cached access token FCM refused (401), so the next send fetches a new
// one.
func (p *fcmProvider) invalidate(old oauth2.TokenSource) {
	p.mu.Lock()
	if p.ts == old {
		p.ts = p.newToken()
	}
	p.mu.Unlock()
}

type fcmMessage struct {
	Message fcmBody `json:"message"`
}

type fcmBody struct {
	Token        string            `json:"token"`
	Notification *fcmNotification  `json:"notification,omitempty"`
	Data         map[string]string `json:"data,omitempty"`
	Android      fcmAndroid        `json:"android"`
	APNs         fcmAPNs           `json:"apns"`
}

type fcmNotification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
}

type fcmAndroid struct {
	Priority    string `json:"priority"`
	TTL         string `json:"ttl"`
	CollapseKey string `json:"collapse_key,omitempty"`
}

type fcmAPNs struct {
	Headers map[string]string `json:"headers"`
}

// fcmError is the google.rpc.Status error body of FCM v1.
type fcmError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type            string `json:"@type"`
			ErrorCode       string `json:"errorCode"`
			FieldViolations []struct {
				Field       string `json:"field"`
				Description string `json:"description"`
			} `json:"fieldViolations"`
		} `json:"details"`
	} `json:"error"`
}

func fcmRequestBody(n *Notification) ([]byte, error) {
	m := fcmMessage{Message: fcmBody{
		Token: n.Target.DeviceID,
		Data:  n.Data,
		Android: fcmAndroid{
			Priority:    "HIGH",
			TTL:         strconv.FormatInt(int64(max(n.TTL, time.Second)/time.Second), 10) + "s",
			CollapseKey: n.Collapse,
		},
		APNs: fcmAPNs{Headers: map[string]string{"apns-priority": "10"}},
	}}
	if n.Title != "" || n.Body != "" {
		m.Message.Notification = &fcmNotification{Title: n.Title, Body: n.Body}
	} else {
		m.Message.APNs.Headers["apns-priority"] = "5" // background pushes must be 5
	}
	if n.Priority == PriorityNormal {
		m.Message.Android.Priority = "NORMAL"
		m.Message.APNs.Headers["apns-priority"] = "5"
	}
	if n.Collapse != "" {
		m.Message.APNs.Headers["apns-collapse-id"] = apnsCollapse(n.Collapse)
	}
	return json.Marshal(m)
}

func (p *fcmProvider) Send(ctx context.Context, n *Notification) error {
	if n.Target.DeviceID == "" {
		return &SendError{Class: ClassRejected, Reason: "MissingToken", Err: ErrInvalid}
	}
	body, err := fcmRequestBody(n)
	if err != nil {
		return &SendError{Class: ClassRejected, Reason: "payload", Err: err}
	}
	ts := p.tokenSource()
	tok, err := ts.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 && re.Response.StatusCode != http.StatusTooManyRequests {
			p.invalidate(ts)
			return &SendError{Class: ClassRejected, Reason: "oauth_" + firstNonEmpty(re.ErrorCode, strconv.Itoa(re.Response.StatusCode)), Status: re.Response.StatusCode, Err: err}
		}
		p.invalidate(ts)
		return &SendError{Class: ClassTransient, Reason: "oauth_unavailable", Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.sendURL, bytes.NewReader(body))
	if err != nil {
		return &SendError{Class: ClassRejected, Reason: "request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := p.client.Do(req)
	if err != nil {
		return &SendError{Class: ClassTransient, Reason: "network", Err: err}
	}
	defer drainClose(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	se := classifyFCM(resp.StatusCode, raw, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
	if resp.StatusCode == http.StatusUnauthorized {
		p.invalidate(ts)
	}
	return se
}

// classifyFCM maps an FCM v1 error (ErrorCode enum of the FCM v1 API reference).
func classifyFCM(status int, raw []byte, retryAfter time.Duration) *SendError {
	var fe fcmError
	_ = json.Unmarshal(raw, &fe)
	code, tokenField := "", false
	for _, d := range fe.Error.Details {
		if d.ErrorCode != "" {
			code = d.ErrorCode
		}
		for _, v := range d.FieldViolations {
			if v.Field == "message.token" {
				tokenField = true
			}
		}
	}
	if code == "" {
		code = firstNonEmpty(fe.Error.Status, strconv.Itoa(status))
	}
	e := &SendError{Reason: code, Status: status, RetryAfter: retryAfter, Err: fmt.Errorf("fcm: %s", fe.Error.Message)}
	switch {
	case code == "UNREGISTERED", code == "SENDER_ID_MISMATCH":
		e.Class = ClassDead
	case code == "INVALID_ARGUMENT" && (tokenField || strings.Contains(fe.Error.Message, "registration token")):
		e.Class, e.Reason = ClassDead, "INVALID_ARGUMENT_TOKEN"
	case code == "THIRD_PARTY_AUTH_ERROR", code == "PERMISSION_DENIED":
		e.Class = ClassRejected // the APNs/web credential in the Firebase project, or IAM
	case status == http.StatusUnauthorized:
		e.Class = ClassTransient // access token refused: fetched anew on the retry
	case code == "QUOTA_EXCEEDED", code == "UNAVAILABLE", code == "INTERNAL",
		status == http.StatusTooManyRequests, status >= 500:
		e.Class = ClassTransient
	default:
		// INVALID_ARGUMENT (payload), THIRD_PARTY_AUTH_ERROR (APNs key in the Firebase
		// console), PERMISSION_DENIED, ...
		e.Class = ClassRejected
	}
	return e
}
