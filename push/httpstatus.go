package push

import (
	"io"
	"net/http"
	"strconv"
	"time"
)

// maxErrorBody bounds how much of a provider's error answer is read.
const maxErrorBody = 64 << 10

// maxRetryAfterSeconds caps a parsed Retry-After (a week) before the dispatcher's own cap,
// so absurd values cannot overflow time.Duration.
const maxRetryAfterSeconds = 7 * 24 * 3600

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
func parseRetryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseInt(h, 10, 64); err == nil && s >= 0 {
		return time.Duration(min(s, maxRetryAfterSeconds)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// drainClose reads a little of the body so the connection can be reused, then closes it.
func drainClose(b io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(b, maxErrorBody))
	_ = b.Close()
}

// classifyStatus is the generic HTTP mapping shared by Web Push and custom HTTP:
// 404/410 gone, 429 and 5xx transient, other 4xx rejected.
func classifyStatus(status int, retryAfter time.Duration) *SendError {
	reason := strconv.Itoa(status)
	switch {
	case status == http.StatusNotFound || status == http.StatusGone:
		return &SendError{Class: ClassDead, Reason: reason, Status: status}
	case status == http.StatusTooManyRequests || status >= 500:
		return &SendError{Class: ClassTransient, Reason: reason, Status: status, RetryAfter: retryAfter}
	default:
		return &SendError{Class: ClassRejected, Reason: reason, Status: status}
	}
}

// DefaultHTTPClient is the client providers use when none is configured: bounded timeouts,
// pooled keep-alive connections, HTTP/2 when the server offers it.
func DefaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.ResponseHeaderTimeout = 20 * time.Second
	return &http.Client{Transport: t, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
