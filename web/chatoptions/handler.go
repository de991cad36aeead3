package chatoptions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/routing"
	"github.com/chatgate/chatgate/internal/config"
	"github.com/chatgate/chatgate/web/adminauth"
	"github.com/chatgate/chatgate/web/apijson"
	"github.com/chatgate/chatgate/web/apiroute"
)

// Prefix is where cmd/chatgate mounts Handler.
const Prefix = "/admin/options"

// CodeInvalidOption is the error code of a refused option.
const CodeInvalidOption = "invalid_option"

// Sources of an effective value.
const (
	SourceDefault  = "default"  // built in
	SourceFile     = "file"     // the config file
	SourceOverride = "override" // the admin API
)

// Value is one effective option.
type Value struct {
	Value  string `json:"value"`
	Source string `json:"source"`
	// From is the scope that set it ("chat" or "chat.<service>"); empty for a default.
	From string `json:"from,omitempty"`
}

// View is the answer about one scope: every option's effective value and where it comes
// from, and the overrides the API holds for the scope.
type View struct {
	// Scope is "chat" (the defaults) or "chat.<service>".
	Scope     string                       `json:"scope"`
	Service   string                       `json:"service,omitempty"`
	Sections  map[string]map[string]Value  `json:"sections"`
	Overrides map[string]map[string]string `json:"overrides"`
}

// ServiceInfo is one row of the service list.
type ServiceInfo struct {
	Name string `json:"name"`
	// InFile: the config file has a chat.<name> scope; Overrides: options set through the
	// API; Configured: listed in the services setting.
	InFile     bool `json:"inFile"`
	Overrides  int  `json:"overrides"`
	Configured bool `json:"configured"`
}

// OptionProblem is one refused option in a 400 answer.
type OptionProblem struct {
	Section string `json:"section"`
	Option  string `json:"option,omitempty"`
	Value   string `json:"value,omitempty"`
	Message string `json:"message"`
}

// InvalidBody is the 400 answer of a refused change: the usual error shape plus each
// refused option.
type InvalidBody struct {
	apijson.ErrorBody
	Problems []OptionProblem `json:"problems"`
}

// HandlerConfig configures Handler.
type HandlerConfig struct {
	Live *Live
	Auth *adminauth.Credentials
	// Services are the configured service names (the services setting), listed even
	// without options of their own.
	Services []string
	// ApplyTimeout bounds how long a change waits to be applied by this node's watch before
	// it is answered (default 5 s; it is stored either way).
	ApplyTimeout time.Duration
}

// Handler serves the live options API below Prefix (mount it with http.StripPrefix):
//
//	GET    /services             the services known: file, overrides, services setting
//	GET    /defaults             the [chat] scope
//	PUT    /defaults             replace the API's overrides of the defaults
//	DELETE /defaults             drop them
//	GET    /services/{service}   one service's effective options
//	PUT    /services/{service}   replace its overrides
//	DELETE /services/{service}   drop them
func Handler(cfg HandlerConfig) (http.Handler, error) {
	if cfg.Live == nil || cfg.Live.kv == nil || cfg.Auth == nil {
		return nil, errors.New("chatoptions: Handler needs Live with a bucket and Auth")
	}
	if cfg.ApplyTimeout <= 0 {
		cfg.ApplyTimeout = 5 * time.Second
	}
	a := &api{cfg: cfg, l: cfg.Live}
	// The JSON APIs' router: their 404 and 405 (with Allow) answers.
	r := apiroute.New()
	r.Use(cfg.Auth.Require)
	r.Get("/services", a.list)
	for _, p := range []string{"/defaults", "/services/{service}"} {
		r.Get(p, a.get)
		r.Put(p, a.put)
		r.Delete(p, a.del)
	}
	return r, nil
}

type api struct {
	cfg HandlerConfig
	l   *Live
}

// scope reads the scope of the request: "" for /defaults, else the service (404 when the
// name is not one a scope may have).
func (a *api) scope(w http.ResponseWriter, r *http.Request) (string, bool) {
	if !strings.HasPrefix(r.URL.Path, "/services/") {
		return "", true
	}
	svc := chi.URLParam(r, "service")
	if !config.ValidServiceName(svc) {
		apijson.Error(w, http.StatusNotFound, apijson.CodeNotFound, "not a service name (1–128 of A-Z a-z 0-9 _ . ~ -)")
		return "", false
	}
	return svc, true
}

func (a *api) list(w http.ResponseWriter, _ *http.Request) {
	file, over := a.l.layers()
	names := map[string]bool{}
	for _, m := range []config.ChatOptions{file, over} {
		for s := range m {
			if s != "" {
				names[s] = true
			}
		}
	}
	for _, s := range a.cfg.Services {
		names[s] = true
	}
	out := []ServiceInfo{}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		c := 0
		for _, opts := range over[n] {
			c += len(opts)
		}
		out = append(out, ServiceInfo{Name: n, InFile: file[n] != nil, Overrides: c, Configured: slices.Contains(a.cfg.Services, n)})
	}
	apijson.Write(w, http.StatusOK, map[string]any{"services": out})
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	scope, ok := a.scope(w, r)
	if !ok {
		return
	}
	apijson.Write(w, http.StatusOK, a.l.view(scope))
}

func (a *api) put(w http.ResponseWriter, r *http.Request) {
	scope, ok := a.scope(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			apijson.Error(w, http.StatusRequestEntityTooLarge, apijson.CodeTooLarge, fmt.Sprintf("body over %d bytes", MaxBody))
			return
		}
		apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, "body not readable")
		return
	}
	sections, err := DecodeSections(body, scope == "")
	if err != nil {
		a.invalid(w, err)
		return
	}
	rev, err := a.l.set(r.Context(), scope, sections)
	switch {
	case errors.Is(err, ErrInvalid):
		a.invalid(w, err)
		return
	case errors.Is(err, ErrTooMany):
		apijson.Error(w, http.StatusConflict, "too_many", err.Error())
		return
	case err != nil:
		apijson.Error(w, http.StatusServiceUnavailable, apijson.CodeUnavailable, "options not stored; retry")
		return
	}
	a.applied(w, r, scope, rev)
}

func (a *api) del(w http.ResponseWriter, r *http.Request) {
	scope, ok := a.scope(w, r)
	if !ok {
		return
	}
	rev, err := a.l.set(r.Context(), scope, nil)
	if err != nil {
		apijson.Error(w, http.StatusServiceUnavailable, apijson.CodeUnavailable, "options not stored; retry")
		return
	}
	a.applied(w, r, scope, rev)
}

// applied answers with the scope's view once this node applied revision rev to its options
// and its running chats (bounded wait: the change is stored, every node applies it from the
// bucket).
func (a *api) applied(w http.ResponseWriter, r *http.Request, scope string, rev uint64) {
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.ApplyTimeout)
	defer cancel()
	if rev != 0 {
		if err := a.l.waitApplied(ctx, rev); err != nil {
			apijson.Error(w, http.StatusAccepted, "not_applied_yet", "stored; not yet applied on this node")
			return
		}
	}
	apijson.Write(w, http.StatusOK, a.l.view(scope))
}

func (a *api) invalid(w http.ResponseWriter, err error) {
	b := InvalidBody{ErrorBody: apijson.ErrorBody{Code: CodeInvalidOption}, Problems: []OptionProblem{}}
	var msgs []string
	for _, oe := range chatcore.OptionErrors(err) {
		b.Problems = append(b.Problems, OptionProblem{Section: oe.Section, Option: oe.Option, Value: oe.Value, Message: oe.Reason})
		if oe.Option == "" {
			msgs = append(msgs, fmt.Sprintf("[%s]: %s", oe.Section, oe.Reason))
		} else {
			msgs = append(msgs, fmt.Sprintf("%s: %s", oe.Option, oe.Reason))
		}
	}
	if len(msgs) == 0 {
		msgs = append(msgs, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
	}
	b.Error = strings.Join(msgs, "; ")
	apijson.Write(w, http.StatusBadRequest, b)
}

// DecodeSections parses a PUT body: an object of sections, each an object of options, with
// string, number or boolean values (config.ParseChatSections, as in the file). On top of the
// file's rules it bounds each value to MaxValue bytes and refuses the routing options the
// router reads only at start. defaults: the body is for the [chat] scope. What the options
// mean is checked when they are compiled (Live.set).
func DecodeSections(body []byte, defaults bool) (map[string]map[string]string, error) {
	sections, err := config.ParseChatSections(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var errs []error
	for sec, opts := range sections {
		for k, v := range opts {
			if len(v) > MaxValue {
				errs = append(errs, &chatcore.OptionError{Section: sec, Option: k, Value: v[:32] + "…", Reason: fmt.Sprintf("longer than %d bytes", MaxValue)})
				continue
			}
			if sec == routing.SectionRouting && !slices.Contains(liveRouting[defaults], k) {
				reason := "unknown option"
				if slices.Contains([]string{"offer-timeout", "reject-cooldown", "last-agent-window", "keep-ready-on-timeout", "customer-key"}, k) {
					reason = "read at start only: set it in the config file"
				}
				errs = append(errs, &chatcore.OptionError{Section: sec, Option: k, Reason: reason})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return sections, nil
}

// set validates the scope's new overrides against the layers (the same compile the watch
// runs) and stores them; nil or empty sections drop them. It returns the bucket revision
// to wait for (0: nothing to wait for).
func (l *Live) set(ctx context.Context, scope string, sections map[string]map[string]string) (uint64, error) {
	key := keyOfScope(scope)
	if len(sections) == 0 {
		// Dropped by storing an empty document (not a KV delete): a put has a revision the
		// answer can wait for, like any other change.
		_, over := l.layers()
		if _, ok := over[scope]; !ok {
			return 0, nil
		}
		b, _ := json.Marshal(Override{Sections: map[string]map[string]string{}, UpdatedAt: time.Now().UTC()})
		rev, err := l.kv.Put(ctx, key, b)
		if err != nil {
			return 0, err
		}
		l.log.Info("chat options: overrides dropped through the admin API", "scope", scopeName(scope))
		return rev, nil
	}
	file, over := l.layers()
	if _, ok := over[scope]; !ok && len(over) >= MaxScopes {
		return 0, fmt.Errorf("%w (%d)", ErrTooMany, MaxScopes)
	}
	over[scope] = sections
	if _, err := compile(file, over); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	b, err := json.Marshal(Override{Sections: sections, UpdatedAt: time.Now().UTC()})
	if err != nil {
		return 0, err
	}
	rev, err := l.kv.Put(ctx, key, b)
	if err != nil {
		return 0, err
	}
	// Names only: values are not secrets, but the log is not where they belong.
	var names []string
	for sec, opts := range sections {
		for k := range opts {
			names = append(names, sec+"/"+k)
		}
	}
	slices.Sort(names)
	l.log.Info("chat options: overrides set through the admin API", "scope", scopeName(scope), "options", names)
	return rev, nil
}

// view builds the answer about one scope.
func (l *Live) view(scope string) View {
	file, over := l.layers()
	v := View{Scope: scopeName(scope), Service: scope, Sections: map[string]map[string]Value{}, Overrides: map[string]map[string]string{}}
	for sec, opts := range over[scope] {
		v.Overrides[sec] = maps.Clone(opts)
	}
	// Highest first: the API's, then the file's value of the scope; for a service then the
	// defaults' API and file values.
	type layer struct {
		m      config.ChatOptions
		scope  string
		source string
	}
	order := []layer{{over, scope, SourceOverride}, {file, scope, SourceFile}}
	if scope != "" {
		order = append(order, layer{over, "", SourceOverride}, layer{file, "", SourceFile})
	}
	source := func(sec, opt string) (string, string) {
		for _, ly := range order {
			if _, ok := ly.m[ly.scope][sec][opt]; ok {
				return ly.source, scopeName(ly.scope)
			}
		}
		return SourceDefault, ""
	}
	for sec, opts := range l.Options(scope).Values() {
		m := map[string]Value{}
		for k, val := range opts {
			src, from := source(sec, k)
			m[k] = Value{Value: val, Source: src, From: from}
		}
		v.Sections[sec] = m
	}
	rs := l.Routing()
	svc := rs.Default
	if scope != "" {
		if s, ok := rs.Services[scope]; ok {
			svc = s
		} else {
			svc.Queue = ""
		}
	}
	rv := map[string]string{"priority": fmt.Sprint(svc.Priority), "no-agent-notice": svc.NoAgentNotice}
	if scope != "" {
		rv["queue"] = svc.Queue
		if svc.Queue == "" {
			rv["queue"] = scope
		}
	}
	m := map[string]Value{}
	for k, val := range rv {
		src, from := source(routing.SectionRouting, k)
		m[k] = Value{Value: val, Source: src, From: from}
	}
	v.Sections[routing.SectionRouting] = m
	return v
}
