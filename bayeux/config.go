package bayeux

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Config configures a Server. The zero value is usable: every zero field takes the CometD
// default noted beside it.
type Config struct {
	// Timeout is how long a /meta/connect is held when nothing is queued (30 s).
	Timeout time.Duration
	// Interval is the delay advised between a connect reply and the next connect (0).
	Interval time.Duration
	// MaxInterval: a session with no connect for this long after its last connect reply
	// (plus Interval) is expired (10 s).
	MaxInterval time.Duration
	// MultiSessionInterval is the polling interval advised to a browser that holds more
	// long-polls than MaxHeldPollsPerBrowser (2 s). Negative: such connects are refused.
	MultiSessionInterval time.Duration
	// MaxHeldPollsPerBrowser is the number of long-polls one browser (BAYEUX_BROWSER cookie)
	// may hold at once (1): CometD's maxSessionsPerBrowser, hence the configuration key
	// bayeux-max-sessions-per-browser, though it counts held connects, not sessions.
	// Websockets do not count. Negative: unlimited.
	MaxHeldPollsPerBrowser int
	// MaxLiveSessionsPerBrowser bounds the live sessions of one browser id, an abuse limit on
	// handshakes (64). Negative: unlimited.
	MaxLiveSessionsPerBrowser int
	// HandshakesPerMinute is the sustained rate of handshakes one client address (an IPv4
	// address, an IPv6 /64) may make, HandshakeBurst how many it may make at once (300 and
	// 50). A refused handshake is answered 429::too_many_handshakes with advice
	// {reconnect: "handshake", interval: ms until the next one is allowed}. Negative: no limit.
	HandshakesPerMinute int
	HandshakeBurst      int
	// MaxQueue bounds the messages waiting for one session; on overflow the oldest is
	// dropped, logged and counted in Stats.QueueDrops (1000).
	MaxQueue int
	// MaxQueueBytes bounds the encoded bytes waiting for one session (and in one websocket's
	// unsent frame list) the same way; the newest message is always kept (1 MiB). Negative:
	// no byte bound.
	MaxQueueBytes int64
	// MaxTotalQueueBytes bounds the bytes waiting in all queues of the server together: past
	// it, the queue a message is added to drops its oldest, down to the new message itself
	// (256 MiB). Negative: no total bound.
	MaxTotalQueueBytes int64
	// MaxSubscriptionsPerSession, MaxSubscriptionsPerBrowser and MaxSubscriptions bound the
	// subscriptions of one session (1000), of the sessions of one browser id — the
	// BAYEUX_BROWSER cookie, or the websocket when it came without one (1000) — and of the
	// whole server (100,000). A /meta/subscribe over a cap is refused whole with
	// 403::too_many_subscriptions. Negative: no cap.
	MaxSubscriptionsPerSession int
	MaxSubscriptionsPerBrowser int
	MaxSubscriptions           int
	// MaxRequestBytes bounds an HTTP body or websocket frame (1 MiB).
	MaxRequestBytes int64
	// MaxMessagesPerBatch bounds the messages of one request or frame (100).
	MaxMessagesPerBatch int
	// MaxMessageBytes bounds one message (64 KiB); larger ones get a 413 error reply.
	MaxMessageBytes int
	// TrustClientSession accepts a known clientId even with another browser's cookie.
	TrustClientSession bool
	// AllowedOrigins lists the browser origins allowed cross-origin: exact origins
	// ("https://shop.example.com"), host wildcards ("*.example.com", "https://*.example.com")
	// or "*". Empty allows same-origin browsers only (PublicOrigins). Requests without Origin
	// are judged by their Referer, else allowed, except a JSONP request with a cookie.
	AllowedOrigins []string
	// PublicOrigins are the origins under which browsers reach this server itself
	// ("https://chat.example.com"): its own pages count as same-origin. Empty: only a
	// loopback origin equal to the request's Host does (development). The Host header is
	// never trusted otherwise (DNS rebinding).
	PublicOrigins []string
	// ClientPublishChannels are the broadcast channel patterns clients may publish to; other
	// broadcast publishes are denied unless Policy.CanPublish allows them.
	ClientPublishChannels []string
	// Policy decides handshakes, subscriptions and extra publishes; nil allows handshakes and
	// subscriptions to broadcast channels.
	Policy Policy
	// ClientAddress returns the client's address for a request (the handshake rate limit's
	// key, HandshakeInfo.Remote, SessionInfo.Remote): an IP or host:port. Nil or "" uses the
	// TCP peer (RemoteAddr). The binary passes web.ClientAddress, which honours
	// trusted-proxies.
	ClientAddress func(*http.Request) string
	// Broker fans broadcasts out (across nodes); nil is an in-memory broker.
	Broker Broker
	// Logger receives warnings and debug events; nil discards.
	Logger *slog.Logger
	// PingPeriod is the websocket ping period (20 s).
	PingPeriod time.Duration
	// WriteTimeout bounds one websocket frame or long-poll response write (10 s).
	WriteTimeout time.Duration
	// TestEcho registers /service/echo, which answers every publish with its data.
	TestEcho bool
}

// Validate reports every setting NewServer refuses: a negative timeout, interval or max
// interval, a client publish pattern that is not a channel pattern (or is under /meta), an
// allowed origin that is not an origin pattern, a public origin that is not an origin. These rules live here only: cmd/chatgate
// calls Validate when it loads its configuration, so a bad value is a configuration error
// listing each problem, and NewServer calls it again.
func (c Config) Validate() error {
	var errs []error
	if c.Timeout < 0 || c.Interval < 0 || c.MaxInterval < 0 {
		errs = append(errs, errors.New("bayeux: negative timeout, interval or max interval"))
	}
	for _, p := range c.ClientPublishChannels {
		if !validChannel(p, true) || isMeta(p) {
			errs = append(errs, fmt.Errorf("bayeux: client publish channel pattern %q: want /segment/... with non-empty segments of letters, digits and -_!~()$@.:+=,%%, the last may be * or **, not under /meta", p))
		}
	}
	for _, o := range c.AllowedOrigins {
		if _, err := parseOriginPattern(o); err != nil {
			errs = append(errs, err)
		}
	}
	for _, o := range c.PublicOrigins {
		if _, err := parsePublicOrigin(o); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() (Config, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Timeout, 30*time.Second)
	def(&c.MaxInterval, 10*time.Second)
	def(&c.MultiSessionInterval, 2*time.Second)
	def(&c.PingPeriod, 20*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	if c.MaxHeldPollsPerBrowser == 0 {
		c.MaxHeldPollsPerBrowser = 1
	}
	if c.MaxLiveSessionsPerBrowser == 0 {
		c.MaxLiveSessionsPerBrowser = 64
	}
	if c.HandshakesPerMinute == 0 {
		c.HandshakesPerMinute = 300
	}
	if c.HandshakeBurst <= 0 {
		c.HandshakeBurst = 50
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 1000
	}
	if c.MaxQueueBytes == 0 {
		c.MaxQueueBytes = 1 << 20
	}
	if c.MaxTotalQueueBytes == 0 {
		c.MaxTotalQueueBytes = 256 << 20
	}
	if c.MaxSubscriptionsPerSession == 0 {
		c.MaxSubscriptionsPerSession = 1000
	}
	if c.MaxSubscriptionsPerBrowser == 0 {
		c.MaxSubscriptionsPerBrowser = 1000
	}
	if c.MaxSubscriptions == 0 {
		c.MaxSubscriptions = 100_000
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = 1 << 20
	}
	if c.MaxMessagesPerBatch <= 0 {
		c.MaxMessagesPerBatch = 100
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 64 << 10
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Broker == nil {
		c.Broker = NewMemoryBroker()
	}
	return c, nil
}
