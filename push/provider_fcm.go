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

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"
	"google.golang.org/api/option"
)

// FCMEndpoint is the FCM HTTP v1 base URL.
const FCMEndpoint = "https://fcm.googleapis.com"

const fcmScope = "https://www.googleapis.com/auth/firebase.messaging"

// fcmProvider sends through the Firebase Admin SDK's messaging client
// (firebase.google.com/go/v4/messaging), which builds the FCM HTTP v1 request and parses
// FCM's errors. Around it chatgate keeps what the dispatcher relies on:
//
//   - the HTTP client is ours (option.WithHTTPClient: the registry's timeouts, connection
//     pool and, in tests, the fake's CA). With its own client the SDK adds no
//     authentication, so an oauth2.Transport over the service account's JWT-bearer token
//     source (golang.org/x/oauth2/jwt, token URL from the key file, cached until expiry,
//     dropped after a 401) authorises each request;
//   - exactly one HTTP exchange per Send. The SDK retries network errors and 503 itself
//     (firebase.google.com/go/v4/internal.WithDefaultRetryConfig: 4 retries, the first
//     at once, then 1, 2, 4 s, Retry-After honoured up to 2 minutes; not configurable
//     through any option). Inside a dispatcher worker that would hold the worker for
//     minutes and stack a second schedule on the dispatcher's. fcmOneExchange records the
//     first exchange and cancels the Send's context right after it, which the SDK's retry
//     wait observes at once; the recorded answer is then classified like any other, and the
//     dispatcher alone decides when to try again (docs/push.md §5).
type fcmProvider struct {
	client *messaging.Client
	http   *http.Client // the registry's client, whose idle connections Close releases
	tokens *fcmTokens
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
	tokens := &fcmTokens{fresh: func() oauth2.TokenSource { return conf.TokenSource(tctx) }}
	tokens.ts = tokens.fresh()

	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	sdkClient := &http.Client{
		Transport:     &fcmOneExchange{base: &oauth2.Transport{Source: tokens, Base: base}},
		Timeout:       client.Timeout,
		CheckRedirect: client.CheckRedirect,
	}
	// NewApp and Messaging do no I/O: the project id is given, and with WithHTTPClient the
	// SDK looks for no default credentials.
	app, err := firebase.NewApp(context.Background(), &firebase.Config{ProjectID: sa.ProjectID},
		option.WithHTTPClient(sdkClient),
		option.WithEndpoint(strings.TrimRight(firstNonEmpty(endpoint, FCMEndpoint), "/")+"/v1"))
	if err != nil {
		return nil, fmt.Errorf("push: fcm: %w", err)
	}
	mc, err := app.Messaging(context.Background())
	if err != nil {
		return nil, fmt.Errorf("push: fcm: %w", err)
	}
	return &fcmProvider{client: mc, http: client, tokens: tokens}, nil
}

func (p *fcmProvider) Kind() Kind   { return KindFCM }
func (p *fcmProvider) Close() error { p.http.CloseIdleConnections(); return nil }

// fcmTokens is the access-token source of one credential. It is swappable because FCM may
// refuse a token before its expiry (401, e.g. a rotated key): the next send must then
// fetch a new one rather than reuse the cached one.
type fcmTokens struct {
	fresh func() oauth2.TokenSource

	mu sync.Mutex
	ts oauth2.TokenSource
}

func (t *fcmTokens) current() oauth2.TokenSource {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ts
}

// Token implements oauth2.TokenSource for the oauth2.Transport.
func (t *fcmTokens) Token() (*oauth2.Token, error) { return t.current().Token() }

// invalidate drops old if it is still the current source (a concurrent send may have
// replaced it already).
func (t *fcmTokens) invalidate(old oauth2.TokenSource) {
	t.mu.Lock()
	if t.ts == old {
		t.ts = t.fresh()
	}
	t.mu.Unlock()
}

// fcmExchange is the one HTTP exchange of one Send, filled in by fcmOneExchange. The SDK
// makes its attempts one after another on the Send's goroutine, so the fields need no lock.
type fcmExchange struct {
	stop   context.CancelCauseFunc
	done   bool // a request was attempted (sent, or its token could not be had)
	status int  // 0 when no response came
	header http.Header
	body   []byte
	err    error // transport or token error
	// retryCut says the SDK wanted to retry this exchange and met our cancellation.
	retryCut bool
}

type fcmExchangeKey struct{}

// errFCMOneExchange is the cause of the cancellation that ends the SDK's retry loop.
var errFCMOneExchange = errors.New("push: fcm: one exchange per send; the dispatcher retries")

// fcmOneExchange lets the first request of a Send through, records its answer (body
// buffered, at most maxErrorBody; FCM's answers are far smaller) and cancels the Send's
// context, so an SDK retry stops before it waits or sends (the SDK's retry wait returns
// the context's error even for a zero delay; TestFCMSendsOnceWhereTheSDKWouldRetry counts
// the requests).
type fcmOneExchange struct{ base http.RoundTripper }

func (t *fcmOneExchange) RoundTrip(req *http.Request) (*http.Response, error) {
	x, _ := req.Context().Value(fcmExchangeKey{}).(*fcmExchange)
	if x == nil {
		return t.base.RoundTrip(req)
	}
	x.done = true
	defer x.stop(errFCMOneExchange)
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		x.err = err
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	drainClose(resp.Body)
	if err != nil {
		x.err = err
		return nil, err
	}
	x.status, x.header, x.body = resp.StatusCode, resp.Header, body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// fcmMessage is the SDK message of a notification. The SDK writes android.priority in
// lower case ("high"/"normal"), which FCM accepts.
func fcmMessage(n *Notification) *messaging.Message {
	ttl := max(n.TTL, time.Second).Truncate(time.Second)
	m := &messaging.Message{
		Token: n.Target.DeviceID,
		Data:  n.Data,
		Android: &messaging.AndroidConfig{
			Priority:    "high",
			TTL:         &ttl,
			CollapseKey: n.Collapse,
		},
		APNS: &messaging.APNSConfig{Headers: map[string]string{"apns-priority": "10"}},
	}
	if n.Title != "" || n.Body != "" {
		m.Notification = &messaging.Notification{Title: n.Title, Body: n.Body}
	} else {
		m.APNS.Headers["apns-priority"] = "5" // background pushes must be 5
	}
	if n.Priority == PriorityNormal {
		m.Android.Priority = "normal"
		m.APNS.Headers["apns-priority"] = "5"
	}
	if n.Collapse != "" {
		m.APNS.Headers["apns-collapse-id"] = apnsCollapse(n.Collapse)
	}
	return m
}

func (p *fcmProvider) Send(ctx context.Context, n *Notification) error {
	if n.Target.DeviceID == "" {
		return &SendError{Class: ClassRejected, Reason: "MissingToken", Err: ErrInvalid}
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	x := &fcmExchange{stop: stop}
	ts := p.tokens.current()
	_, err := p.client.Send(context.WithValue(ctx, fcmExchangeKey{}, x), fcmMessage(n))
	if err == nil && x.status >= http.StatusMultipleChoices {
		// The SDK counts 300-303 as success; for FCM only a 2xx is (found by
		// FuzzClassifyFCMError: a 303 with "{}" was reported delivered).
		err = fmt.Errorf("fcm: answered %d", x.status)
	}
	if err == nil {
		return nil
	}
	x.retryCut = errors.Is(err, context.Canceled) && errors.Is(context.Cause(ctx), errFCMOneExchange)
	se := classifyFCM(err, x, time.Now())
	if se == nil {
		return nil
	}
	if se.Status == http.StatusUnauthorized || strings.HasPrefix(se.Reason, "oauth_") {
		p.tokens.invalidate(ts)
	}
	return se
}

// classifyFCM maps the SDK's error for the exchange x to a class. The SDK's predicates
// (messaging.IsUnregistered, ...; errorutils for the google.rpc status) decide the class;
// x supplies what they do not expose: the status, Retry-After, the field violation that
// says the token itself is malformed, and the answer of an exchange the SDK wanted to
// retry (its error is then our cancellation, and the answer is by the SDK's own judgement
// transient).
func classifyFCM(err error, x *fcmExchange, now time.Time) *SendError {
	switch {
	case !x.done:
		// The SDK refused the message before sending it (validateMessage).
		return &SendError{Class: ClassRejected, Reason: "payload", Err: err}
	case x.err != nil:
		var re *oauth2.RetrieveError
		if errors.As(x.err, &re) {
			if re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 && re.Response.StatusCode != http.StatusTooManyRequests {
				return &SendError{Class: ClassRejected, Reason: "oauth_" + firstNonEmpty(re.ErrorCode, strconv.Itoa(re.Response.StatusCode)), Status: re.Response.StatusCode, Err: x.err}
			}
			return &SendError{Class: ClassTransient, Reason: "oauth_unavailable", Err: x.err}
		}
		return &SendError{Class: ClassTransient, Reason: "network", Err: x.err}
	}
	if x.status >= 200 && x.status < 300 {
		// FCM accepted the message; the SDK only failed to read the name it answered.
		return nil
	}
	reason, tokenField := fcmReason(x.status, x.body)
	e := &SendError{Reason: reason, Status: x.status, RetryAfter: parseRetryAfter(x.header.Get("Retry-After"), now), Err: err}
	switch {
	case x.retryCut, x.status == http.StatusTooManyRequests, x.status >= 500:
		// What the SDK would retry itself, quota, and server trouble (INTERNAL,
		// UNAVAILABLE) whatever errorCode the body names.
		e.Class = ClassTransient
	case x.status < 400:
		e.Class = ClassRejected // a redirect: providers follow none
	case messaging.IsUnregistered(err), messaging.IsSenderIDMismatch(err):
		e.Class = ClassDead
	case messaging.IsInvalidArgument(err) && (tokenField || strings.Contains(err.Error(), "registration token")):
		e.Class, e.Reason = ClassDead, "INVALID_ARGUMENT_TOKEN"
	case messaging.IsThirdPartyAuthError(err), errorutils.IsPermissionDenied(err):
		e.Class = ClassRejected // the APNs/web credential in the Firebase project, or IAM
	case errorutils.IsUnauthenticated(err), x.status == http.StatusUnauthorized:
		e.Class = ClassTransient // access token refused: fetched anew on the retry
	case messaging.IsQuotaExceeded(err), messaging.IsUnavailable(err), messaging.IsInternal(err):
		e.Class = ClassTransient
	default:
		// INVALID_ARGUMENT (payload), NOT_FOUND of the project, ...
		e.Class = ClassRejected
	}
	return e
}

// fcmStatus is the google.rpc.Status error body of FCM v1, as far as the SDK's error does
// not expose it.
type fcmStatus struct {
	Error struct {
		Status  string `json:"status"`
		Details []struct {
			ErrorCode       string `json:"errorCode"`
			FieldViolations []struct {
				Field string `json:"field"`
			} `json:"fieldViolations"`
		} `json:"details"`
	} `json:"error"`
}

// fcmReason names an FCM answer for the failure counters: the FcmError errorCode (the
// ErrorCode enum of the v1 reference), else the google.rpc status, else the HTTP status;
// tokenField says a field violation names message.token.
func fcmReason(status int, body []byte) (reason string, tokenField bool) {
	var fs fcmStatus
	_ = json.Unmarshal(body, &fs)
	for _, d := range fs.Error.Details {
		if d.ErrorCode != "" {
			reason = d.ErrorCode
		}
		for _, v := range d.FieldViolations {
			if v.Field == "message.token" {
				tokenField = true
			}
		}
	}
	return firstNonEmpty(reason, firstNonEmpty(fs.Error.Status, strconv.Itoa(status))), tokenField
}
