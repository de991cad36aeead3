package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// restCustomer is a REST widget: form-encoded POSTs to /genesys/2/chat/{svc}[/{chatId}/send].
// Sends pass transcriptPosition = the last nextPosition, as a widget that shows new events
// does, so the answer must carry the customer's own Message event.
type restCustomer struct {
	w      *gmsWorker
	hc     *http.Client
	base   string // http://host/genesys/2/chat/{svc}
	global int

	chatID, userID, secureKey, alias string
	next                             int64
}

func (c *restCustomer) open(context.Context) error { return nil }
func (c *restCustomer) lastIndex() int64           { return c.next - 1 }
func (c *restCustomer) close(context.Context)      {}

// post sends one form and decodes the response object; at is when the answer was read.
func (c *restCustomer) post(ctx context.Context, u string, form url.Values) (gmsResponse, time.Time, error) {
	var r gmsResponse
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return r, time.Time{}, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		return r, time.Time{}, fmt.Errorf("POST: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	at := time.Now()
	if err != nil {
		return r, at, fmt.Errorf("reading answer: %w", err)
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return r, at, fmt.Errorf("HTTP %d, answer not JSON: %q", resp.StatusCode, truncate(body))
	}
	if resp.StatusCode != http.StatusOK || r.StatusCode != 0 {
		return r, at, &statusError{HTTP: resp.StatusCode, Status: r.StatusCode, Code: r.errCode()}
	}
	return r, at, nil
}

func (c *restCustomer) create(ctx context.Context) (time.Duration, error) {
	form := url.Values{"nickname": {"load-" + strconv.Itoa(c.global)}, "subject": {"chatgate-load"}}
	if c.w.cfg.Async {
		form.Set("userData[GCTI_Chat_AsyncMode]", "true")
	}
	t0 := time.Now()
	r, at, err := c.post(ctx, c.base, form)
	if err != nil {
		return 0, err
	}
	if r.ChatID == "" || r.SecureKey == "" || r.UserID == "" || r.Alias == "" {
		return 0, fmt.Errorf("answer without chatId/secureKey/userId/alias: %w", errNoReply)
	}
	c.chatID, c.userID, c.secureKey, c.alias, c.next = r.ChatID, r.UserID, r.SecureKey, r.Alias, r.NextPosition
	return at.Sub(t0), nil
}

func (c *restCustomer) send(ctx context.Context, k int) (time.Duration, error) {
	text := c.w.messageText(c.global, k)
	form := url.Values{
		"secureKey": {c.secureKey}, "userId": {c.userID}, "alias": {c.alias},
		"message": {text}, "transcriptPosition": {strconv.FormatInt(c.next, 10)},
	}
	t0 := time.Now()
	r, at, err := c.post(ctx, c.base+"/"+url.PathEscape(c.chatID)+"/send", form)
	if err != nil {
		return 0, err
	}
	if !r.hasMessage(text) {
		c.w.base.event("rest-answer-without-own-message")
	}
	if r.NextPosition > c.next {
		c.next = r.NextPosition
	}
	return at.Sub(t0), nil
}
