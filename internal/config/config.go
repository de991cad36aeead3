package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Secret is a configuration value that must never be printed: String, GoString and LogValue
// hide it. Use Reveal where the value is actually needed.
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String reports whether the secret is set, never its value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v as well.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// LogValue hides the value from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText hides the value from encoders that print the configuration.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Config is every setting of the chatgate binary. The `key` tag names the setting in flags,
// environment and config file; the `help` tag is its documentation (rendered into
// docs/configuration.md by Reference).
type Config struct {
	Addr     string `key:"addr" help:"HTTP listen address (host:port). Port 0 picks a free port; the bound address is logged as msg=listening addr=HOST:PORT."`
	Data     string `key:"data" help:"Directory for the embedded NATS JetStream store (created if missing). Not used when nats-url is set."`
	NodeID   string `key:"node-id" help:"Name of this node in a cluster (chat ownership, alias in responses). Empty means the host name."`
	LogLevel string `key:"log-level" help:"Log level: debug, info, warn or error. debug adds one access-log line per HTTP request."`
	LogFmt   string `key:"log-format" help:"Log format on stderr: text (logfmt-style key=value) or json (one object per line)."`

	NATSURL           string        `key:"nats-url" help:"Comma-separated URLs of an external NATS cluster (nats://, tls://, ws://, wss://). Empty runs an embedded server storing under data."`
	NATSCreds         string        `key:"nats-creds" help:"Path to a NATS credentials file (.creds: user JWT and nkey seed) for nats-url."`
	NATSReplicas      int           `key:"nats-replicas" help:"Replica count of streams and buckets. 0 means 1 embedded and 3 with nats-url (a single external dev server needs 1)."`
	StoreSync         string        `key:"store-sync" help:"Embedded store fsync policy: background (acknowledged writes survive a killed process; fsync every store-sync-interval) or always (fsync before every acknowledgement; survives a power cut, much slower). See docs/storage.md."`
	StoreSyncInterval time.Duration `key:"store-sync-interval" help:"Background fsync period of the embedded store under store-sync background: the most a power cut can lose."`
	// Store quotas: JetStream max bytes of the stream and buckets (reserved in the engine).
	StoreMaxTranscriptBytes int64 `key:"store-max-transcript-bytes" help:"Quota of all transcripts (stream CHAT_EVENTS), in bytes; 0 = none of chatgate's own. At the quota every new event is refused (HTTP 503, code 600) and counted (chatgate_store_quota_refusals_total); nothing stored is discarded. Reserved in the engine at start: it must fit its storage."`
	StoreMaxStateBytes      int64 `key:"store-max-state-bytes" help:"Quota of all chat state documents (bucket CHAT_STATE), in bytes; 0 = none. At the quota new chats and state changes are refused like store-max-transcript-bytes."`
	StoreMaxFileBytes       int64 `key:"store-max-file-bytes" help:"Quota of all uploaded files (bucket CHAT_FILES), in bytes; 0 = none. At the quota uploads are refused like store-max-transcript-bytes."`

	AllowedOrigins        []string `key:"allowed-origins" help:"Comma-separated browser origins allowed to use chatgate from their pages, e.g. https://shop.example.com or *.example.com: /genesys/cometd refuses other origins with 403, and only these get CORS headers (with preflight) on /genesys/cometd, /genesys/2/... and /widget/. Empty allows same-origin browsers only (public-origins). A request without Origin is judged by its Referer's origin; with neither it is allowed (non-browser clients), except a callback-polling (JSONP) request carrying a BAYEUX_BROWSER cookie."`
	PublicOrigins         []string `key:"public-origins" help:"Comma-separated origins under which browsers reach this server itself, e.g. https://chat.example.com: pages served from them (the demo page, a same-site widget) count as same-origin on /genesys/cometd. Empty: only a loopback origin equal to the Host (http://localhost:8080) does. The Host header alone is never trusted (DNS rebinding)."`
	ClientPublishChannels []string `key:"client-publish-channels" help:"Comma-separated Bayeux channel patterns clients may publish to (* one segment, ** any depth), e.g. /bench/**. Service channels (/service/**) are always publishable."`
	Services              []string `key:"services" help:"Comma-separated chat service names this node serves (/genesys/2/chat/{service}). Empty serves every configured service."`

	ChatMaxEvents          int   `key:"chat-max-events" help:"Most events one chat's transcript may hold. Past it messages, notices, typing and uploads are refused (HTTP 413, code 404); leaving and ending still work."`
	ChatMaxTranscriptBytes int64 `key:"chat-max-transcript-bytes" help:"Most bytes of stored event JSON one chat's transcript may hold; refused like chat-max-events."`
	ChatEventRate          int   `key:"chat-event-rate" help:"Events per second one participant may add to one chat, sustained (typing included; leaving is never limited). Over it: HTTP 429, code 500, nothing committed."`
	ChatEventBurst         int   `key:"chat-event-burst" help:"Events one participant may add to one chat in a burst above chat-event-rate."`
	ChatMaxUserDataBytes   int   `key:"chat-max-userdata-bytes" help:"Most bytes of userData (keys and values) one chat may hold. Over it the request is refused (HTTP 413, code 401) and nothing changes."`
	ChatMaxUserDataKeys    int   `key:"chat-max-userdata-keys" help:"Most userData keys one chat may hold; refused like chat-max-userdata-bytes."`
	ChatMaxUserDataValue   int   `key:"chat-max-userdata-value" help:"Longest userData value, in bytes; refused like chat-max-userdata-bytes."`

	BayeuxTimeout               time.Duration `key:"bayeux-timeout" help:"How long a /meta/connect long-poll is held when nothing is queued (CometD timeout)."`
	BayeuxInterval              time.Duration `key:"bayeux-interval" help:"Delay the client is advised to wait between connects (CometD interval)."`
	BayeuxMaxInterval           time.Duration `key:"bayeux-max-interval" help:"A session without a connect for this long after its last connect returned is expired (CometD maxInterval)."`
	BayeuxMultiSessionInterval  time.Duration `key:"bayeux-multi-session-interval" help:"Interval advised to a browser that holds more long-polls than bayeux-max-sessions-per-browser."`
	BayeuxMaxSessionsPerBrowser int           `key:"bayeux-max-sessions-per-browser" help:"Long-polls one browser (BAYEUX_BROWSER cookie) may hold at once; extra ones return at once with multiple-clients advice."`
	BayeuxHandshakesPerMinute   int           `key:"bayeux-handshakes-per-minute" help:"Sustained Bayeux handshakes one client address (IPv4 address, IPv6 /64) may make per minute; past it a handshake is refused 429::too_many_handshakes with advice to handshake again after the interval (chatgate_bayeux_refusals_total{reason=\"handshake_rate\"}). 0 turns the limit off (load tests from one machine; behind a proxy that hides client addresses)."`
	BayeuxHandshakeBurst        int           `key:"bayeux-handshake-burst" help:"Handshakes one client address may make at once before bayeux-handshakes-per-minute applies."`
	BayeuxMaxQueue              int           `key:"bayeux-max-queue" help:"Messages queued per session while it has no connect held; on overflow the oldest is dropped, logged and counted (chatgate_bayeux_queue_drops_total)."`
	BayeuxMaxQueueBytes         int64         `key:"bayeux-max-queue-bytes" help:"Encoded bytes queued per Bayeux session (and per websocket's unsent frames); on overflow the oldest messages are dropped (the newest is always kept), logged and counted (chatgate_bayeux_queue_drops_total)."`
	BayeuxMaxTotalQueueBytes    int64         `key:"bayeux-max-total-queue-bytes" help:"Encoded bytes queued in all Bayeux sessions of this node together (chatgate_bayeux_queued_bytes); past it the queue a message is added to drops its oldest, down to the new message, counted in chatgate_bayeux_queue_drops_total."`
	BayeuxMaxSubsPerSession     int           `key:"bayeux-max-subscriptions-per-session" help:"Bayeux subscriptions one session may hold; a /meta/subscribe past it is refused 403::too_many_subscriptions (chatgate_bayeux_refusals_total{reason=\"subscriptions\"})."`
	BayeuxMaxSubsPerBrowser     int           `key:"bayeux-max-subscriptions-per-browser" help:"Bayeux subscriptions the sessions of one browser id (BAYEUX_BROWSER cookie, or one websocket without it) may hold together; refused like bayeux-max-subscriptions-per-session."`
	BayeuxMaxSubscriptions      int           `key:"bayeux-max-subscriptions" help:"Bayeux subscriptions of all sessions of this node together (chatgate_bayeux_subscriptions); refused like bayeux-max-subscriptions-per-session."`
	BayeuxMaxRequestBytes       int64         `key:"bayeux-max-request-bytes" help:"Largest HTTP request body or websocket frame accepted on /genesys/cometd, in bytes."`
	BayeuxMaxMessagesPerBatch   int           `key:"bayeux-max-messages-per-batch" help:"Most Bayeux messages accepted in one request or frame."`
	BayeuxMaxMessageBytes       int           `key:"bayeux-max-message-bytes" help:"Largest single Bayeux message accepted, in bytes."`
	BayeuxTrustClientSession    bool          `key:"bayeux-trust-client-session" help:"Accept a known clientId even when the BAYEUX_BROWSER cookie belongs to another browser (CometD trustClientSession). Off is safer."`
	BayeuxTestEcho              bool          `key:"bayeux-test-echo" help:"Test only: register /service/echo, which answers every publish with the data it carried. Never enable in production."`

	DemoPage bool `key:"demo-page" help:"Serve a demo page with the customer widget at / (the widget itself is always served under /widget/). Turn off in production when / belongs to another site."`

	PushTemplates      string `key:"push-templates" help:"JSON file with push notification texts per language and type, and which types are off (see docs/push.md). Empty uses the built-in English and Russian texts."`
	PushToActiveClient bool   `key:"push-to-active-client" help:"Push also to customers whose CometD connection is live (GMS push_notification_to_active_client; a chat's userData may override it)."`
	PushQueueSize      int    `key:"push-queue-size" help:"Notifications queued per push provider kind (Web Push, APNs, FCM, custom HTTP); beyond it a notification is refused, logged and counted."`
	PushConcurrency    int    `key:"push-concurrency" help:"Concurrent sends per push provider kind (the size of its worker pool)."`
	// PushWebPushAllowedHosts extends push.DefaultWebPushHosts; it never replaces it.
	PushWebPushAllowedHosts []string `key:"push-webpush-allowed-hosts" help:"Comma-separated extra hosts a Web Push subscription endpoint may point at, besides the browsers' push services (FCM, Mozilla, WNS, Apple), e.g. push.example.com, .push.example.com (subdomains) or 127.0.0.1 (a local test push service). Endpoints name a URL the server POSTs to, so every entry widens what a customer can make the server call: list only push services you run."`

	AdminToken    Secret `key:"admin-token" help:"Bearer token for the admin API. At least 16 characters. When neither this nor admin-user/admin-password is set, a first-run token is generated once per cluster, stored as a hash and printed once in the log. Secret: never logged."`
	AdminUser     string `key:"admin-user" help:"User name for HTTP Basic authentication on the admin API (with admin-password)."`
	AdminPassword Secret `key:"admin-password" help:"Password for HTTP Basic authentication on the admin API (with admin-user); at least 12 characters. Secret: never logged."`
	SecretsKey    Secret `key:"secrets-key" help:"Key that encrypts stored push credentials: 32 random bytes, base64-encoded (openssl rand -base64 32). Empty disables storing credentials. Secret: never logged."`

	ReadHeaderTimeout     time.Duration `key:"read-header-timeout" help:"Longest time a client may take to send request headers (slowloris guard). There is deliberately no write timeout: it would cut Bayeux long-polls."`
	BodyReadTimeout       time.Duration `key:"body-read-timeout" help:"Longest time a client may take to send a request body, counted from the end of its headers; a slower body is cut off (connection closed, counted in chatgate_http_body_read_timeouts_total). A held Bayeux /meta/connect is not affected: its small body is read first."`
	RequestTimeout        time.Duration `key:"request-timeout" help:"Longest a GMS REST (/genesys/2/...) or admin (/admin/, /workflow/) request may take; then its work is cancelled and it is answered 504. Never applied to /genesys/cometd, whose connects are held for bayeux-timeout and whose websockets stay open."`
	ChatCreatesPerMinute  int           `key:"chat-creates-per-minute" help:"Chat creations (POST /genesys/2/chat/{service}) accepted per client address (IPv6: per /64) and minute; more are answered 429 with Retry-After and a GMS error body (code 500), counted in chatgate_http_rate_limited_total{limit=\"chat_create\"}. The address is the TCP peer, or the forwarded-for client when the peer is one of trusted-proxies. 0 = no limit."`
	RESTRequestsPerMinute int           `key:"rest-requests-per-minute" help:"Requests under /genesys/2/ (GMS REST, chat-ntf, chat-push/ack) accepted per client address and minute, like chat-creates-per-minute (limit=\"rest\"). CometD is not counted here (it has its own handshake limit). 0 = no limit."`
	TrustedProxies        []string      `key:"trusted-proxies" help:"Comma-separated CIDR prefixes of reverse proxies in front of chatgate, e.g. 10.0.0.0/8 or 127.0.0.1/32. A request whose TCP peer is inside them is judged by the rightmost X-Forwarded-For address that is not: that address is the one every per-address limit (chat-creates-per-minute, rest-requests-per-minute, bayeux-handshakes-per-minute, agent login) counts and the access log shows. Empty: the TCP peer is the client and X-Forwarded-For is ignored (a client cannot choose its own address)."`
	MaxConnections        int           `key:"max-connections" help:"Most HTTP connections open at once (held long-polls and websockets included); further clients wait in the accept queue. 0 derives it from the open-file limit at start (limit minus a quarter, at least 128 descriptors, kept for the store and outgoing connections); -1 means no cap."`
	IdleTimeout           time.Duration `key:"idle-timeout" help:"How long an idle keep-alive HTTP connection stays open."`
	ShutdownDelay         time.Duration `key:"shutdown-delay" help:"On SIGTERM, how long /readyz reports not-ready before connections are closed, so a load balancer stops routing here first. 0 in development; about 5s behind a load balancer."`
	ShutdownTimeout       time.Duration `key:"shutdown-timeout" help:"Upper bound on graceful shutdown after the delay (answering long-polls, closing websockets, flushing the store). A second signal exits at once."`

	AgentDisconnectGrace time.Duration `key:"agent-disconnect-grace" help:"How long an agent desktop may stay without a CometD session before it is logged out and its chats go back to routing (GCTI_Chat_AsyncStatus 4). A reconnect within it keeps everything."`
	AgentSessionTTL      time.Duration `key:"agent-session-ttl" help:"Lifetime of an agent's login session token (POST /agent/v1/login). Logout revokes it earlier."`
	AgentMaxConnections  int           `key:"agent-max-connections" help:"Cap on the CometD sessions of agents, supervisors and bots on this node; a handshake beyond it answers 503::too_many_agent_connections."`
	AgentLoginPerMinute  int           `key:"agent-login-per-minute" help:"Login attempts allowed per account id and minute (ten times that per client address); more answer 429."`

	FeedMaxAge             time.Duration `key:"feed-max-age" help:"How long the event feed (stream FEED: every committed chat event and interaction-property change, docs/workflow.md) keeps a record; older ones are discarded, and an SSE client or webhook that has not read them by then misses them."`
	FeedMaxBytes           int64         `key:"feed-max-bytes" help:"Most bytes the event feed stream may hold; past it the oldest records are discarded (like feed-max-age). Reserved in the engine at start."`
	FeedHeartbeat          time.Duration `key:"feed-heartbeat" help:"How often an idle event stream (GET /workflow/v1/feed/events) gets a comment line, so proxies keep it open and clients notice a dead connection."`
	WebhookMaxAttempts     int           `key:"webhook-max-attempts" help:"Attempts per record and webhook endpoint before the record goes to the endpoint's dead letters (replayable through the API); later records keep flowing."`
	WebhookBackoff         time.Duration `key:"webhook-backoff" help:"Wait after a webhook's first failed attempt; it doubles after each further failure, up to webhook-backoff-max."`
	WebhookBackoffMax      time.Duration `key:"webhook-backoff-max" help:"Longest wait between two attempts of one webhook delivery."`
	WorkflowIdempotencyTTL time.Duration `key:"workflow-idempotency-ttl" help:"How long the workflow API remembers an Idempotency-Key (bucket CHATGATE_IDEMPOTENCY): a retry with the same key within it repeats the first answer instead of acting again; after it the key may act again."`
	WebhookTimeout         time.Duration `key:"webhook-timeout" help:"Longest one webhook HTTP delivery may take (connect to end of response); longer counts as a failed attempt. After a crash, an unacknowledged delivery is retried after webhook-timeout + webhook-backoff-max + 5s."`

	StuckStrategy      string        `key:"stuck-strategy" help:"What chatgate itself does with a live async chat once its GCTI_Chat_AsyncCheckAt has passed (a stuck chat): off (leave it to an external workflow, GET /workflow/v1/chats?checkDue=1), restore (restore the session; needs session-restore-extend-by esp or both), restore-and-route (restore it and give it a positive GCTI_Chat_AsyncStatus so routing offers it to an agent) or end (end it as the server, quit reason 5)."`
	Retention          time.Duration `key:"retention" help:"How long an ended chat is kept; then it is purged: transcript, state, files and secureKey index entry are deleted and the chat answers like an unknown one. 0 keeps ended chats forever (the store quotas bound the disk)."`
	RetentionExportDir string        `key:"retention-export-dir" help:"Directory where retention writes each ended chat's transcript (<chatId>.ndjson, the feed's record schema v1, fsynced) before purging it; a chat whose export fails is kept and retried at the next pass. Empty: purged without an export. Created at start if missing."`
	SweepInterval      time.Duration `key:"sweep-interval" help:"How often the stuck strategy and retention run (each pass acts on at most 1000 chats of each kind). Only used when stuck-strategy is not off or retention is set."`

	// Chat holds the "chat" and "chat.<serviceName>" objects of the config file (file only:
	// no flag or environment form; fileonly, so Fields skips it). See ChatOptions.
	Chat ChatOptions `fileonly:"chat"`
}

// Default returns the configuration used when nothing else is set.
func Default() Config {
	return Config{
		Addr:      ":8080",
		Data:      "./data",
		LogLevel:  "info",
		LogFmt:    "text",
		StoreSync: "background",

		StoreSyncInterval: time.Second,

		BayeuxTimeout:               30 * time.Second,
		BayeuxInterval:              0,
		BayeuxMaxInterval:           10 * time.Second,
		BayeuxMultiSessionInterval:  2 * time.Second,
		BayeuxMaxSessionsPerBrowser: 1,
		BayeuxHandshakesPerMinute:   300,
		BayeuxHandshakeBurst:        50,
		BayeuxMaxQueue:              1000,
		BayeuxMaxQueueBytes:         1 << 20,
		BayeuxMaxTotalQueueBytes:    256 << 20,
		BayeuxMaxSubsPerSession:     1000,
		BayeuxMaxSubsPerBrowser:     1000,
		BayeuxMaxSubscriptions:      100_000,
		BayeuxMaxRequestBytes:       1 << 20,
		BayeuxMaxMessagesPerBatch:   100,
		BayeuxMaxMessageBytes:       64 << 10,

		DemoPage: true,

		PushQueueSize:   10000,
		PushConcurrency: 32,

		ChatMaxEvents:          10_000,
		ChatMaxTranscriptBytes: 8 << 20,
		ChatEventRate:          5,
		ChatEventBurst:         20,
		ChatMaxUserDataBytes:   64 << 10,
		ChatMaxUserDataKeys:    128,
		ChatMaxUserDataValue:   16 << 10,

		StoreMaxTranscriptBytes: 2 << 30,
		StoreMaxStateBytes:      256 << 20,
		StoreMaxFileBytes:       2 << 30,

		ReadHeaderTimeout: 10 * time.Second,
		BodyReadTimeout:   30 * time.Second,
		RequestTimeout:    60 * time.Second,

		ChatCreatesPerMinute:  60,
		RESTRequestsPerMinute: 1200,
		IdleTimeout:           120 * time.Second,
		ShutdownDelay:         0,
		ShutdownTimeout:       20 * time.Second,

		FeedMaxAge:         7 * 24 * time.Hour,
		FeedMaxBytes:       1 << 30,
		FeedHeartbeat:      15 * time.Second,
		WebhookMaxAttempts: 10,
		WebhookBackoff:     time.Second,
		WebhookBackoffMax:  time.Minute,
		WebhookTimeout:     10 * time.Second,

		WorkflowIdempotencyTTL: 24 * time.Hour,
		StuckStrategy:          "off",
		SweepInterval:          30 * time.Second,

		AgentDisconnectGrace: 30 * time.Second,
		AgentSessionTTL:      12 * time.Hour,
		AgentLoginPerMinute:  10,
		AgentMaxConnections:  10000,
	}
}

// SlogLevel is LogLevel as a slog.Level (Validate has checked it).
func (c Config) SlogLevel() slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.LogLevel))
	return l
}

// Node is NodeID, or the host name when NodeID is empty (or "chatgate" if even that fails).
func (c Config) Node() string {
	if c.NodeID != "" {
		return c.NodeID
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "chatgate"
}

// SecretsKeyBytes decodes SecretsKey (Validate has checked it); nil when unset.
func (c Config) SecretsKeyBytes() []byte {
	b, _ := decodeKey(c.SecretsKey.Reveal())
	return b
}

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid configuration")

var serviceName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Validate checks every field and returns all problems at once, each naming its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, key, fmt.Sprintf(format, args...)))
	}

	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad("addr", "want host:port (e.g. :8080 or 127.0.0.1:0): %v", err)
	} else if _, err := net.LookupPort("tcp", port); err != nil {
		bad("addr", "bad port %q", port)
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad("trusted-proxies", "%q is not a CIDR prefix such as 10.0.0.0/8 or ::1/128", p)
		}
	}
	if c.NATSURL == "" && strings.TrimSpace(c.Data) == "" {
		bad("data", "must be set unless nats-url is")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log-level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	switch c.LogFmt {
	case "text", "json":
	default:
		bad("log-format", "%q is not one of text, json", c.LogFmt)
	}
	if c.NATSURL != "" {
		for u := range strings.SplitSeq(c.NATSURL, ",") {
			p, err := url.Parse(strings.TrimSpace(u))
			if err != nil {
				bad("nats-url", "unparsable URL")
				continue
			}
			switch p.Scheme {
			case "nats", "tls", "ws", "wss":
			default:
				bad("nats-url", "URL %q: scheme must be nats, tls, ws or wss", p.Redacted())
			}
			if p.Host == "" {
				bad("nats-url", "URL %q has no host", p.Redacted())
			}
		}
	}
	if c.NATSReplicas < 0 || c.NATSReplicas > 5 {
		bad("nats-replicas", "must be between 0 and 5, got %d", c.NATSReplicas)
	}
	if c.NATSCreds != "" {
		if c.NATSURL == "" {
			bad("nats-creds", "only applies with nats-url")
		} else if _, err := os.Stat(c.NATSCreds); err != nil {
			bad("nats-creds", "%v", err)
		}
	}
	switch c.StoreSync {
	case "background", "always":
	default:
		bad("store-sync", "%q is not one of background, always", c.StoreSync)
	}
	// allowed-origins and client-publish-channels follow the bayeux package's rules, which
	// live there only (bayeux.Config.Validate); cmd/chatgate applies them right after Load.
	for _, h := range c.PushWebPushAllowedHosts {
		if h == "" || h == "." || strings.ContainsAny(h, "/:*@ ") && net.ParseIP(h) == nil {
			bad("push-webpush-allowed-hosts", "%q: want a host name, .domain (its subdomains) or an IP address, without scheme or port", h)
		}
	}
	for _, s := range c.Services {
		if !serviceName.MatchString(s) {
			bad("services", "%q: a service name is letters, digits, '_', '.' or '-'", s)
		}
	}
	positive := []struct {
		key string
		d   time.Duration
	}{
		{"bayeux-timeout", c.BayeuxTimeout}, {"bayeux-max-interval", c.BayeuxMaxInterval},
		{"read-header-timeout", c.ReadHeaderTimeout}, {"idle-timeout", c.IdleTimeout},
		{"body-read-timeout", c.BodyReadTimeout}, {"request-timeout", c.RequestTimeout},
		{"shutdown-timeout", c.ShutdownTimeout}, {"store-sync-interval", c.StoreSyncInterval},
		{"agent-disconnect-grace", c.AgentDisconnectGrace}, {"agent-session-ttl", c.AgentSessionTTL},
		{"feed-max-age", c.FeedMaxAge}, {"feed-heartbeat", c.FeedHeartbeat}, {"webhook-backoff", c.WebhookBackoff},
		{"webhook-backoff-max", c.WebhookBackoffMax}, {"webhook-timeout", c.WebhookTimeout},
		{"workflow-idempotency-ttl", c.WorkflowIdempotencyTTL},
		{"sweep-interval", c.SweepInterval},
	}
	for _, p := range positive {
		if p.d <= 0 {
			bad(p.key, "must be positive, got %s", p.d)
		}
	}
	nonNegative := []struct {
		key string
		d   time.Duration
	}{
		{"bayeux-interval", c.BayeuxInterval}, {"bayeux-multi-session-interval", c.BayeuxMultiSessionInterval},
		{"shutdown-delay", c.ShutdownDelay}, {"retention", c.Retention},
	}
	for _, p := range nonNegative {
		if p.d < 0 {
			bad(p.key, "must not be negative, got %s", p.d)
		}
	}
	ints := []struct {
		key string
		n   int64
	}{
		{"bayeux-max-sessions-per-browser", int64(c.BayeuxMaxSessionsPerBrowser)},
		{"bayeux-max-queue", int64(c.BayeuxMaxQueue)},
		{"bayeux-handshake-burst", int64(c.BayeuxHandshakeBurst)},
		{"bayeux-max-queue-bytes", c.BayeuxMaxQueueBytes},
		{"bayeux-max-total-queue-bytes", c.BayeuxMaxTotalQueueBytes},
		{"bayeux-max-subscriptions-per-session", int64(c.BayeuxMaxSubsPerSession)},
		{"bayeux-max-subscriptions-per-browser", int64(c.BayeuxMaxSubsPerBrowser)},
		{"bayeux-max-subscriptions", int64(c.BayeuxMaxSubscriptions)},
		{"bayeux-max-request-bytes", c.BayeuxMaxRequestBytes},
		{"bayeux-max-messages-per-batch", int64(c.BayeuxMaxMessagesPerBatch)},
		{"bayeux-max-message-bytes", int64(c.BayeuxMaxMessageBytes)},
		{"push-queue-size", int64(c.PushQueueSize)},
		{"push-concurrency", int64(c.PushConcurrency)},
		{"chat-max-events", int64(c.ChatMaxEvents)},
		{"chat-max-transcript-bytes", c.ChatMaxTranscriptBytes},
		{"chat-event-rate", int64(c.ChatEventRate)},
		{"chat-event-burst", int64(c.ChatEventBurst)},
		{"chat-max-userdata-bytes", int64(c.ChatMaxUserDataBytes)},
		{"chat-max-userdata-keys", int64(c.ChatMaxUserDataKeys)},
		{"chat-max-userdata-value", int64(c.ChatMaxUserDataValue)},
		{"agent-login-per-minute", int64(c.AgentLoginPerMinute)},
		{"agent-max-connections", int64(c.AgentMaxConnections)},
		{"feed-max-bytes", c.FeedMaxBytes},
		{"webhook-max-attempts", int64(c.WebhookMaxAttempts)},
	}
	for _, p := range ints {
		if p.n < 1 {
			bad(p.key, "must be at least 1, got %d", p.n)
		}
	}
	if c.BayeuxHandshakesPerMinute < 0 {
		bad("bayeux-handshakes-per-minute", "must not be negative (0 turns the limit off), got %d", c.BayeuxHandshakesPerMinute)
	}
	for _, q := range []struct {
		key string
		n   int64
	}{
		{"store-max-transcript-bytes", c.StoreMaxTranscriptBytes}, {"store-max-state-bytes", c.StoreMaxStateBytes},
		{"store-max-file-bytes", c.StoreMaxFileBytes},
	} {
		if q.n < 0 {
			bad(q.key, "must not be negative (0 = no quota), got %d", q.n)
		}
	}
	if c.BayeuxMaxMessageBytes > 0 && c.BayeuxMaxRequestBytes > 0 && int64(c.BayeuxMaxMessageBytes) > c.BayeuxMaxRequestBytes {
		bad("bayeux-max-message-bytes", "%d exceeds bayeux-max-request-bytes %d", c.BayeuxMaxMessageBytes, c.BayeuxMaxRequestBytes)
	}
	if c.ChatCreatesPerMinute < 0 {
		bad("chat-creates-per-minute", "must not be negative (0 = no limit), got %d", c.ChatCreatesPerMinute)
	}
	if c.RESTRequestsPerMinute < 0 {
		bad("rest-requests-per-minute", "must not be negative (0 = no limit), got %d", c.RESTRequestsPerMinute)
	}
	if c.MaxConnections < -1 {
		bad("max-connections", "must be -1 (no cap), 0 (from the open-file limit) or a positive number, got %d", c.MaxConnections)
	}
	if (c.AdminUser == "") != (c.AdminPassword.Reveal() == "") {
		bad("admin-user", "admin-user and admin-password go together")
	}
	if p := c.AdminPassword.Reveal(); p != "" && len(p) < 12 {
		bad("admin-password", "must be at least 12 characters (got %d)", len(p))
	}
	if t := c.AdminToken.Reveal(); t != "" && len(t) < 16 {
		bad("admin-token", "must be at least 16 characters (got %d)", len(t))
	}
	if k := c.SecretsKey.Reveal(); k != "" {
		if _, err := decodeKey(k); err != nil {
			bad("secrets-key", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// decodeKey accepts standard or URL-safe base64, padded or not, of exactly 32 bytes. The
// error never quotes the value.
func decodeKey(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("must decode to 32 bytes, got %d (generate with: openssl rand -base64 32)", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("not valid base64 (generate with: openssl rand -base64 32)")
}
