package push

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// httpProvider is GMS's "customhttp": POST {"deviceId", "message"} as JSON to a configured
// URL, with an optional Authorization header. chatgate adds "title" and "data" (the
// flex-push-content fields and the event type) when the notification has them, so a
// receiver can refresh from the right chat without parsing the text.
type httpProvider struct {
	cred   HTTPCredential
	client *http.Client
}

// HTTPBody is the JSON a custom HTTP receiver gets.
type HTTPBody struct {
	DeviceID string            `json:"deviceId"`
	Message  string            `json:"message"`
	ID       string            `json:"id,omitempty"`
	Title    string            `json:"title,omitempty"`
	Data     map[string]string `json:"data,omitempty"`
}

func newHTTPProvider(c HTTPCredential, client *http.Client) *httpProvider {
	return &httpProvider{cred: c, client: client}
}

func (p *httpProvider) Kind() Kind   { return KindHTTP }
func (p *httpProvider) Close() error { p.client.CloseIdleConnections(); return nil }

func (p *httpProvider) Send(ctx context.Context, n *Notification) error {
	msg := n.Body
	if msg == "" {
		msg = p.cred.Message
	}
	body, err := json.Marshal(HTTPBody{DeviceID: n.Target.DeviceID, Message: msg, ID: n.ID, Title: n.Title, Data: n.Data})
	if err != nil {
		return &SendError{Class: ClassRejected, Reason: "payload", Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cred.URL, bytes.NewReader(body))
	if err != nil {
		return &SendError{Class: ClassRejected, Reason: "request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	if a := firstNonEmpty(n.Target.Authorization, p.cred.Authorization); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return &SendError{Class: ClassTransient, Reason: "network", Err: err}
	}
	defer drainClose(resp.Body)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return classifyStatus(resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
}
