package natsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SyncPolicy says when the embedded server fsyncs JetStream writes.
type SyncPolicy string

const (
	// SyncBackground acknowledges a write once it is in the operating system's page cache
	// (it survives a killed process) and fsyncs every Options.SyncInterval. A power cut or
	// kernel crash can lose acknowledged writes from the last interval.
	SyncBackground SyncPolicy = "background"
	// SyncAlways fsyncs every write before acknowledging it (survives a power cut; a few
	// thousand writes per second on ordinary disks).
	SyncAlways SyncPolicy = "always"
)

// DefaultSyncInterval bounds how much acknowledged data a power cut can lose under
// SyncBackground. nats-server's own default is 2 minutes; one second costs little (one fsync
// per dirty block per second) and shrinks the window by two orders of magnitude.
const DefaultSyncInterval = time.Second

// ErrNotReady is returned when the engine does not become ready in time.
var ErrNotReady = errors.New("natsserver: not ready")

// ParseSyncPolicy accepts "background" (or "") and "always".
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	switch SyncPolicy(s) {
	case "", SyncBackground:
		return SyncBackground, nil
	case SyncAlways:
		return SyncAlways, nil
	}
	return "", fmt.Errorf("natsserver: unknown sync policy %q (want background or always)", s)
}

// Options configures Start. Either DataDir (embedded) or ExternalURL (external) is required.
type Options struct {
	// DataDir is the root of the embedded server's JetStream file storage
	// (the server writes under DataDir/jetstream). Ignored with ExternalURL.
	DataDir string
	// Sync is the embedded server's fsync policy; "" means SyncBackground.
	Sync SyncPolicy
	// SyncInterval is the background fsync period under SyncBackground; 0 means
	// DefaultSyncInterval.
	SyncInterval time.Duration
	// ListenHost and ListenPort open a client listener on the embedded server (for example
	// to let a NATS CLI inspect it). Without ListenHost the server has no network listener
	// and chatgate connects in-process. ListenPort -1 picks a free port.
	ListenHost string
	ListenPort int
	// ServerName names the embedded server (default "chatgate").
	ServerName string
	// ExternalURL connects to an external NATS cluster (comma-separated URLs) instead of
	// embedding a server.
	ExternalURL string
	// ExternalOptions are extra client options for ExternalURL (credentials, TLS).
	ExternalOptions []nats.Option
	// Replicas is the replica count for streams and buckets created through Conn.
	// 0 means 1 when embedded and 3 when external.
	Replicas int
	// StartTimeout bounds how long Start waits for the server or cluster (default 10 s;
	// a deadline on ctx also applies).
	StartTimeout time.Duration
	// Logger receives the server's log lines and connection events (default: discard).
	Logger *slog.Logger
}

// Conn is a ready connection to JetStream, embedded or external. It is safe for concurrent
// use. Close it exactly once.
type Conn struct {
	// NC is the core NATS connection (also usable for core pub/sub fan-out).
	NC *nats.Conn
	// JS is the JetStream handle (nats.go jetstream API).
	JS jetstream.JetStream

	replicas int
	log      *slog.Logger
	closed   chan struct{} // closed by the client's ClosedHandler
	once     sync.Once
	closeErr error

	// embedded is nil when external; it owns the in-process server and its restarts.
	embedded *embedded
	// probe is the readiness write check (a put and get on the health bucket).
	probe *writeProbe
}

// Start starts an embedded server under o.DataDir, or connects to o.ExternalURL, and returns
// once JetStream answers.
func Start(ctx context.Context, o Options) (*Conn, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := o.StartTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	c := &Conn{log: log, closed: make(chan struct{}), replicas: o.Replicas}
	c.probe = &writeProbe{c: c}
	copts := []nats.Option{
		nats.Name("chatgate"),
		nats.ClosedHandler(func(*nats.Conn) { close(c.closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("nats async error", "subject", subj, "err", err)
		}),
	}

	var err error
	if o.ExternalURL != "" {
		if c.replicas <= 0 {
			c.replicas = 3
		}
		copts = append(copts, nats.MaxReconnects(-1), nats.ReconnectWait(500*time.Millisecond), nats.Timeout(timeout))
		copts = append(copts, o.ExternalOptions...)
		c.NC, err = nats.Connect(o.ExternalURL, copts...)
		if err != nil {
			return nil, fmt.Errorf("natsserver: connect %s: %w", redactURL(o.ExternalURL), err)
		}
	} else {
		if c.replicas <= 0 {
			c.replicas = 1
		}
		c.embedded, err = startEmbedded(o, log, timeout)
		if err != nil {
			return nil, err
		}
		// The client dials through c.embedded, so that after a restart of the server (see
		// recover.go) it reconnects to the new one by itself.
		copts = append(copts, nats.InProcessServer(c.embedded), nats.MaxReconnects(-1),
			nats.ReconnectWait(100*time.Millisecond))
		c.NC, err = nats.Connect("", copts...)
		if err != nil {
			c.embedded.stop()
			return nil, fmt.Errorf("natsserver: in-process connect: %w", err)
		}
	}

	c.JS, err = jetstream.New(c.NC)
	if err == nil {
		err = c.waitJetStream(ctx)
	}
	if err != nil {
		_ = c.Close(context.Background())
		return nil, err
	}
	if c.embedded != nil {
		c.embedded.startRecovery()
		log.Info("embedded nats ready", "data", o.DataDir, "sync", effectiveSync(o.Sync), "listen", c.ClientURL())
	} else {
		log.Info("external nats ready", "url", c.NC.ConnectedUrlRedacted(), "replicas", c.replicas)
	}
	return c, nil
}

func effectiveSync(p SyncPolicy) SyncPolicy {
	if p == "" {
		return SyncBackground
	}
	return p
}

// serverOptions builds the embedded server's options from o. Called for every (re)start,
// because nats-server adjusts the options it is given.
func serverOptions(o Options) (*server.Options, error) {
	if o.DataDir == "" {
		return nil, errors.New("natsserver: DataDir is required for the embedded server")
	}
	policy, err := ParseSyncPolicy(string(o.Sync))
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("natsserver: data dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("natsserver: data dir: %w", err)
	}
	name := o.ServerName
	if name == "" {
		name = "chatgate"
	}
	sopts := &server.Options{
		ServerName: name,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      false,
		DontListen: o.ListenHost == "",
		Host:       o.ListenHost,
		Port:       o.ListenPort,
		// The embedded server serves one trusted client process; no system account
		// chatter is needed.
		NoSystemAccount: true,
	}
	if sopts.DontListen {
		sopts.Port = -1
	}
	switch policy {
	case SyncAlways:
		sopts.SyncAlways = true
		sopts.SyncInterval = DefaultSyncInterval
	default:
		sopts.SyncInterval = o.SyncInterval
		if sopts.SyncInterval <= 0 {
			sopts.SyncInterval = DefaultSyncInterval
		}
	}
	return sopts, nil
}

// runServer starts one embedded server and waits until it accepts connections.
func runServer(sopts *server.Options, logger server.Logger, debug bool, timeout time.Duration) (*server.Server, error) {
	ns, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("natsserver: new server: %w", err)
	}
	ns.SetLoggerV2(logger, debug, false, false)
	ns.Start()
	if !ns.ReadyForConnections(timeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("%w: embedded server did not start within %s", ErrNotReady, timeout)
	}
	return ns, nil
}

// waitJetStream polls until the JetStream API answers (an external cluster may still be
// electing its meta leader right after start).
func (c *Conn) waitJetStream(ctx context.Context) error {
	var last error
	for {
		// Bound each attempt: a cluster without a meta leader does not answer at all, and
		// one unbounded request would use up the whole start deadline.
		actx, cancel := context.WithTimeout(ctx, time.Second)
		last = c.Ping(actx)
		cancel()
		if last == nil {
			return nil
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: jetstream: %w", ErrNotReady, last)
		case <-t.C:
		}
	}
}

// Ping checks that the connection is up and JetStream answers an API request (reading
// only; Ready also checks that the store can write).
func (c *Conn) Ping(ctx context.Context) error {
	if !c.NC.IsConnected() {
		return fmt.Errorf("%w: nats %s", ErrNotReady, c.NC.Status())
	}
	if _, err := c.JS.AccountInfo(ctx); err != nil {
		return fmt.Errorf("%w: jetstream account info: %w", ErrNotReady, err)
	}
	return nil
}

// Embedded reports whether the server runs inside this process.
func (c *Conn) Embedded() bool { return c.embedded != nil }

// Replicas is the replica count used for streams and buckets created through c.
func (c *Conn) Replicas() int { return c.replicas }

// ClientURL is the embedded server's client listener URL, or "" when it has none or the
// server is external.
func (c *Conn) ClientURL() string {
	if c.embedded == nil {
		return ""
	}
	srv := c.embedded.current()
	if srv == nil || srv.Addr() == nil {
		return ""
	}
	return srv.ClientURL()
}

// Stream creates or updates a stream with c's storage defaults: file storage and c's replica
// count, unless cfg sets them. Idempotent, so every start can call it.
func (c *Conn) Stream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	if cfg.Replicas == 0 {
		cfg.Replicas = c.replicas
	}
	s, err := c.JS.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("natsserver: stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// KV creates or updates a key-value bucket with c's storage defaults (file storage, c's
// replica count) unless cfg sets them. Idempotent.
func (c *Conn) KV(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if cfg.Replicas == 0 {
		cfg.Replicas = c.replicas
	}
	kv, err := c.JS.CreateOrUpdateKeyValue(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("natsserver: kv %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// ObjectStore creates or updates an object store bucket with c's storage defaults. Idempotent.
func (c *Conn) ObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	if cfg.Replicas == 0 {
		cfg.Replicas = c.replicas
	}
	obs, err := c.JS.CreateOrUpdateObjectStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("natsserver: object store %s: %w", cfg.Bucket, err)
	}
	return obs, nil
}

// Close drains the client connection (pending publishes and subscriptions finish), then
// shuts the embedded server down and waits until it has flushed its stores and stopped all
// its goroutines. ctx bounds the drain; the server shutdown itself always completes.
// Calling Close again returns the first result.
func (c *Conn) Close(ctx context.Context) error {
	c.once.Do(func() { c.closeErr = c.close(ctx) })
	return c.closeErr
}

func (c *Conn) close(ctx context.Context) error {
	var errs []error
	if c.embedded != nil {
		// No restart may begin while the client drains and the server stops.
		c.embedded.stopRecovery()
	}
	if c.NC != nil {
		if err := c.NC.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, fmt.Errorf("natsserver: drain: %w", err))
			c.NC.Close()
		}
		select {
		case <-c.closed:
		case <-ctx.Done():
			c.NC.Close()
			<-c.closed
			errs = append(errs, fmt.Errorf("natsserver: drain: %w", ctx.Err()))
		}
	}
	if c.embedded != nil {
		c.embedded.stop()
	}
	return errors.Join(errs...)
}

// slogLogger adapts nats-server's printf-style logger to slog. onError, if set, sees every
// error line (the embedded server's only report of a store that stopped accepting writes).
type slogLogger struct {
	log     *slog.Logger
	onError func(msg string)
}

func (l slogLogger) Noticef(format string, v ...any) {
	l.log.Info(fmt.Sprintf(format, v...), "component", "nats")
}
func (l slogLogger) Warnf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...), "component", "nats")
}
func (l slogLogger) Fatalf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...), "component", "nats", "fatal", true)
}
func (l slogLogger) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg, "component", "nats")
	if l.onError != nil {
		l.onError(msg)
	}
}
func (l slogLogger) Debugf(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "component", "nats")
}
func (l slogLogger) Tracef(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "component", "nats")
}

// redactURL hides credentials in a comma-separated URL list before it is logged or
// returned in an error.
func redactURL(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = "<unparsable url>"
			continue
		}
		parts[i] = u.Redacted()
	}
	return strings.Join(parts, ",")
}
