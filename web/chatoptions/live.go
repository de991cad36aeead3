package chatoptions

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/routing"
	"github.com/chatgate/chatgate/internal/config"
)

// Bucket is the KV bucket of the overrides: one key per scope ("defaults", or "svc." and the
// service name in unpadded base64url, since KV keys cannot hold every character a service
// name may), each an Override document.
const Bucket = "CHATGATE_OPTIONS"

// Limits of the overrides (docs/operations.md, "Limits and abuse").
const (
	// MaxBody bounds one PUT body.
	MaxBody = 64 << 10
	// MaxValue bounds one option's text (the notice texts are the long ones).
	MaxValue = 4096
	// MaxScopes bounds how many scopes (services + defaults) may carry overrides.
	MaxScopes = 1000
)

// ErrInvalid: the options asked for are refused (the error lists each refused option as a
// chatcore.OptionError where it can name one).
var ErrInvalid = errors.New("chatoptions: invalid options")

// ErrTooMany: MaxScopes scopes carry overrides already.
var ErrTooMany = errors.New("chatoptions: too many services with overrides")

// Override is what the bucket holds for one scope.
type Override struct {
	Sections  map[string]map[string]string `json:"sections"`
	UpdatedAt time.Time                    `json:"updatedAt"`
}

// Config configures Open.
type Config struct {
	// KV is the overrides bucket (OpenBucket).
	KV jetstream.KeyValue
	// File is the config file's chat options at start.
	File config.ChatOptions
	// OnChange is called after the effective options changed (an override arrived through
	// the watch, or ReloadFile), never under a lock: apply them to running chats there.
	OnChange func()
	Logger   *slog.Logger
}

// Live serves the effective options (chatcore.OptionSource) and keeps them current.
type Live struct {
	kv       jetstream.KeyValue
	log      *slog.Logger
	onChange func()

	// mu guards file and over, the layers the current table was compiled from; cur is
	// read without it. Lock order: mu is never held while calling out (OnChange, KV).
	mu   sync.Mutex
	file config.ChatOptions
	over config.ChatOptions
	cur  atomic.Pointer[table]

	// applied is the last KV revision the watch applied; waiters are woken on each.
	applied atomic.Uint64
	amu     sync.Mutex
	acond   chan struct{}

	stop context.CancelFunc
	done chan struct{}
}

// table is one compiled set of options.
type table struct {
	def      chatcore.Options
	services map[string]chatcore.Options
	routing  routing.Settings
}

// OpenBucket opens (or creates) the overrides bucket.
func OpenBucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, Description: "chat options set through the admin API, per scope",
		History: 1, Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
		MaxValueSize: MaxBody * 2, MaxBytes: 64 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("chatoptions: bucket %s: %w", Bucket, err)
	}
	return kv, nil
}

// Open compiles the file's options with the stored overrides and starts watching the
// bucket. An override that no longer compiles with the file (it cannot happen through the
// API, which validates against the same layers) is logged and left out.
func Open(ctx context.Context, cfg Config) (*Live, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Live{kv: cfg.KV, log: cfg.Logger, onChange: cfg.OnChange, file: cfg.File, over: config.ChatOptions{}, acond: make(chan struct{})}
	if cfg.File == nil {
		l.file = config.ChatOptions{}
	}
	t, err := compile(l.file, nil)
	if err != nil {
		return nil, err
	}
	l.cur.Store(t)
	if l.kv == nil {
		return l, nil
	}
	// The watch lives until Close, not as long as ctx (which bounds the start only).
	wctx, cancel := context.WithCancel(context.Background())
	w, err := l.kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("chatoptions: watching %s: %w", Bucket, err)
	}
	// The initial values, up to the watch's nil marker, before Open returns: a node starts
	// with the cluster's overrides.
	var last uint64
initial:
	for {
		select {
		case e := <-w.Updates():
			if e == nil {
				break initial
			}
			l.take(e)
			last = e.Revision()
		case <-ctx.Done():
			_ = w.Stop()
			cancel()
			return nil, fmt.Errorf("chatoptions: reading %s: %w", Bucket, ctx.Err())
		}
	}
	l.recompile()
	l.markApplied(last)
	l.stop, l.done = cancel, make(chan struct{})
	go l.watch(wctx, w)
	return l, nil
}

// Close stops the watch.
func (l *Live) Close() {
	if l.stop != nil {
		l.stop()
		<-l.done
	}
}

func (l *Live) watch(ctx context.Context, w jetstream.KeyWatcher) {
	defer close(l.done)
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				continue
			}
			l.take(e)
			// Marked applied once OnChange returned: a PUT's answer then means this node's
			// running chats have the new options.
			if l.recompile() && l.onChange != nil {
				l.onChange()
			}
			l.markApplied(e.Revision())
		}
	}
}

// take records one bucket entry in the override layer (the caller recompiles, then marks
// the revision applied: a waiter must see the compiled options, not only the layer).
func (l *Live) take(e jetstream.KeyValueEntry) {
	scope, ok := scopeOfKey(e.Key())
	if !ok {
		l.log.Warn("chatoptions: unknown key in the options bucket", "key", e.Key())
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(l.over, scope)
		return
	}
	var o Override
	if err := json.Unmarshal(e.Value(), &o); err != nil {
		l.log.Error("chatoptions: undecodable override left out", "scope", scopeName(scope), "err", err)
		delete(l.over, scope)
		return
	}
	if len(o.Sections) == 0 { // dropped (Live.set)
		delete(l.over, scope)
		return
	}
	l.over[scope] = o.Sections
}

// recompile builds the table from the layers; false when they do not compile (logged, the
// running table stays).
func (l *Live) recompile() bool {
	l.mu.Lock()
	t, err := compile(l.file, l.over)
	l.mu.Unlock()
	if err != nil {
		l.log.Error("chatoptions: options with the overrides refused; the running ones stay", "err", err)
		return false
	}
	l.cur.Store(t)
	return true
}

func (l *Live) markApplied(rev uint64) {
	l.amu.Lock()
	if rev > l.applied.Load() {
		l.applied.Store(rev)
	}
	close(l.acond)
	l.acond = make(chan struct{})
	l.amu.Unlock()
}

// waitApplied waits until the watch applied revision rev (or ctx ends).
func (l *Live) waitApplied(ctx context.Context, rev uint64) error {
	for {
		l.amu.Lock()
		if l.applied.Load() >= rev {
			l.amu.Unlock()
			return nil
		}
		ch := l.acond
		l.amu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ReloadFile replaces the file layer (SIGHUP). The overrides stay on top. Options with an
// error are refused whole and the running ones stay.
func (l *Live) ReloadFile(raw config.ChatOptions) error {
	l.mu.Lock()
	t, err := compile(raw, l.over)
	if err == nil {
		l.file = raw
		l.cur.Store(t)
	}
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if l.onChange != nil {
		l.onChange()
	}
	return nil
}

// Options implements chatcore.OptionSource.
func (l *Live) Options(service string) chatcore.Options {
	t := l.cur.Load()
	if so, ok := t.services[service]; ok {
		return so
	}
	return t.def
}

// Routing returns the router's settings from the current options.
func (l *Live) Routing() routing.Settings { return l.cur.Load().routing }

// Each calls f for the defaults ("") and every service with options of its own.
func (l *Live) Each(f func(scope string, o chatcore.Options)) {
	t := l.cur.Load()
	f("", t.def)
	for svc, o := range t.services {
		f(svc, o)
	}
}

// layers returns copies of the two layers.
func (l *Live) layers() (file, over config.ChatOptions) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.file, maps.Clone(l.over)
}

// compile merges the layers per scope and parses them: chatcore's sections with
// chatcore.Options.With (the defaults on DefaultOptions, each service on the defaults), the
// routing section with routing.ParseSettings — the code that reads the config file.
func compile(file, over config.ChatOptions) (*table, error) {
	merged := config.ChatOptions{}
	for _, layer := range []config.ChatOptions{file, over} {
		for scope, secs := range layer {
			for sec, opts := range secs {
				if merged[scope] == nil {
					merged[scope] = map[string]map[string]string{}
				}
				if merged[scope][sec] == nil {
					merged[scope][sec] = map[string]string{}
				}
				maps.Copy(merged[scope][sec], opts)
			}
		}
	}
	core, rs, err := splitRouting(merged)
	if err != nil {
		return nil, fmt.Errorf("%w: chat options: %w", config.ErrInvalid, err)
	}
	def, err := chatcore.DefaultOptions().With(core[""])
	if err != nil {
		return nil, fmt.Errorf("%w: chat options [chat]: %w", config.ErrInvalid, err)
	}
	t := &table{def: def, services: map[string]chatcore.Options{}, routing: rs}
	var errs []error
	for _, svc := range core.Scopes() {
		if svc == "" {
			continue
		}
		so, err := def.With(core[svc])
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: chat options [chat.%s]: %w", config.ErrInvalid, svc, err))
			continue
		}
		t.services[svc] = so
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// splitRouting takes the routing section out of every scope and parses it; the rest is
// chatcore's.
func splitRouting(raw config.ChatOptions) (config.ChatOptions, routing.Settings, error) {
	core := config.ChatOptions{}
	scopes := map[string]map[string]string{}
	for scope, sections := range raw {
		rest := map[string]map[string]string{}
		for sec, opts := range sections {
			if sec == routing.SectionRouting {
				scopes[scope] = opts
				continue
			}
			rest[sec] = opts
		}
		core[scope] = rest
	}
	rs, err := routing.ParseSettings(scopes)
	return core, rs, err
}

// liveRouting are the routing options the router applies at runtime (SetServices); the
// others (timeouts, window, customer key) are read at start, so the API refuses them.
var liveRouting = map[bool][]string{
	true:  {"priority", "no-agent-notice"},          // defaults
	false: {"queue", "priority", "no-agent-notice"}, // a service
}

const defaultsKey = "defaults"

func keyOfScope(scope string) string {
	if scope == "" {
		return defaultsKey
	}
	return "svc." + base64.RawURLEncoding.EncodeToString([]byte(scope))
}

func scopeOfKey(key string) (string, bool) {
	if key == defaultsKey {
		return "", true
	}
	enc, ok := strings.CutPrefix(key, "svc.")
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || !config.ValidServiceName(string(b)) {
		return "", false
	}
	return string(b), true
}

// scopeName is the scope as the file names it.
func scopeName(scope string) string {
	if scope == "" {
		return "chat"
	}
	return "chat." + scope
}
