package pushtest

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Reply is a scripted answer of a fake: HTTP status, the provider's error reason (APNs
// reason, FCM errorCode) and an optional Retry-After value.
type Reply struct {
	Status     int
	Reason     string
	RetryAfter string
}

// script hands out scripted replies per key (device token, subscription id) in order;
// once a key's replies are used up the fake answers success.
type script struct {
	mu      sync.Mutex
	replies map[string][]Reply
	always  map[string]Reply
}

func (s *script) add(key string, r ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replies == nil {
		s.replies = map[string][]Reply{}
	}
	s.replies[key] = append(s.replies[key], r...)
}

func (s *script) setAlways(key string, r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.always == nil {
		s.always = map[string]Reply{}
	}
	s.always[key] = r
}

func (s *script) next(key string) (Reply, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.replies[key]; len(q) > 0 {
		s.replies[key] = q[1:]
		return q[0], true
	}
	r, ok := s.always[key]
	return r, ok
}

// Client returns an HTTP client (HTTP/2 capable) that trusts the certificates of the given
// TLS test servers. Call CloseIdleConnections when done (goleak).
func Client(servers ...*httptest.Server) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: TLSConfig(servers...), ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 256}, Timeout: 10 * time.Second}
}

// TLSConfig trusts the certificates of the given TLS test servers.
func TLSConfig(servers ...*httptest.Server) *tls.Config {
	pool := x509.NewCertPool()
	for _, s := range servers {
		pool.AddCert(s.Certificate())
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
