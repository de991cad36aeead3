package routing

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/chatcore"
)

// Service is the routing of one chat service.
type Service struct {
	// Queue the service's chats wait in; "" is the service's name.
	Queue string
	// Priority orders chats across and within queues: higher first, then FIFO.
	Priority int
	// NoAgentNotice is the text of the system notice a customer gets once per wait when the
	// chat cannot be offered at once; "" sends none. "{position}" becomes the queue position
	// (1 = next), "{wait}" the estimated wait rounded up to minutes ("unknown" without one).
	NoAgentNotice string
}

// Config configures a Router.
type Config struct {
	Core *chatcore.Core     // required
	KV   jetstream.KeyValue // required: the CHATGATE_ROUTING bucket (OpenBucket)
	Sink OfferSink          // where offers go; nil until SetSink (offers then time out unseen)
	// Clock defaults to chatcore.RealClock.
	Clock chatcore.Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Services maps a chat service to its routing; services not listed use Default.
	Services map[string]Service
	Default  Service
	// OfferTimeout is how long an offer waits for Accept (default 30 s).
	OfferTimeout time.Duration
	// RejectCooldown: an agent who rejected a chat, or let its offer time out, is not offered
	// that chat again for this long (default 60 s).
	RejectCooldown time.Duration
	// KeepReadyOnTimeout keeps an agent Ready after an offer timed out; by default the agent
	// becomes NotReady with reason "offer-timeout" (an absent agent stops receiving offers).
	KeepReadyOnTimeout bool
	// LastAgentWindow is how long the last agent who handled a customer is preferred
	// (default 72 h; negative turns the preference off).
	LastAgentWindow time.Duration
	// CustomerKey is the userData key that identifies a customer across chats for the
	// last-agent preference when the chat has no e-mail address (ChatView.Email, compared
	// case-insensitively); default "EmailAddress"; "-" = the same chat only.
	CustomerKey string
	// StoreTimeout bounds each KV write and notice (default 10 s).
	StoreTimeout time.Duration
}

// Defaults.
const (
	DefaultOfferTimeout    = 30 * time.Second
	DefaultRejectCooldown  = 60 * time.Second
	DefaultLastAgentWindow = 72 * time.Hour
	DefaultCustomerKey     = "EmailAddress"
)

func (c *Config) defaults() error {
	if c.Core == nil || c.KV == nil {
		return fmt.Errorf("routing: Config.Core and Config.KV are required: %w", ErrInvalid)
	}
	if c.Clock == nil {
		c.Clock = chatcore.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.OfferTimeout <= 0 {
		c.OfferTimeout = DefaultOfferTimeout
	}
	if c.RejectCooldown <= 0 {
		c.RejectCooldown = DefaultRejectCooldown
	}
	if c.LastAgentWindow == 0 {
		c.LastAgentWindow = DefaultLastAgentWindow
	}
	if c.CustomerKey == "" {
		c.CustomerKey = DefaultCustomerKey
	}
	if c.StoreTimeout <= 0 {
		c.StoreTimeout = 10 * time.Second
	}
	return nil
}

// service returns the routing of a chat service, with its queue name resolved.
func (c *Config) service(name string) Service {
	s, ok := c.Services[name]
	if !ok {
		s = c.Default
	}
	if s.Queue == "" {
		s.Queue = name
	}
	return s
}

// Bucket is the KV bucket of the router's durable state.
const Bucket = "CHATGATE_ROUTING"

// KVOpener opens (creating if needed) a KV bucket; *natsserver.Conn implements it.
type KVOpener interface {
	KV(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error)
}

// OpenBucket opens the router's bucket (replicas: 1 embedded, 3 in a cluster).
func OpenBucket(ctx context.Context, kvs KVOpener, replicas int) (jetstream.KeyValue, error) {
	if replicas <= 0 {
		replicas = 1
	}
	kv, err := kvs.KV(ctx, jetstream.KeyValueConfig{Bucket: Bucket, Description: "chatgate routing: wait starts, notices, last agents", History: 1, Replicas: replicas, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("routing: open %s: %w", Bucket, err)
	}
	return kv, nil
}

// ParseService reads a service's routing from configuration values: "queue", "priority"
// (an integer), "no-agent-notice". Unknown keys and bad values are errors naming them.
func ParseService(values map[string]string) (Service, error) {
	var s Service
	for k, v := range values {
		switch k {
		case "queue":
			s.Queue = strings.TrimSpace(v)
		case "priority":
			p, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return Service{}, &chatcore.OptionError{Section: SectionRouting, Option: k, Value: v, Reason: "want an integer", Err: ErrInvalid}
			}
			s.Priority = p
		case "no-agent-notice":
			s.NoAgentNotice = v
		default:
			return Service{}, &chatcore.OptionError{Section: SectionRouting, Option: k, Reason: "unknown option", Err: ErrInvalid}
		}
	}
	return s, nil
}

// SetServices replaces the service routing at runtime (a configuration reload). It applies
// to chats that start to wait from now on; waiting chats keep their queue and priority.
func (r *Router) SetServices(services map[string]Service, def Service) {
	services = maps.Clone(services)
	r.mu.Lock()
	r.cfg.Services, r.cfg.Default = services, def
	r.mu.Unlock()
}
