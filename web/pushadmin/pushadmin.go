package pushadmin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/chatgate/chatgate/push"
	"github.com/chatgate/chatgate/push/credstore"
	"github.com/chatgate/chatgate/web/adminauth"
	"github.com/chatgate/chatgate/web/apijson"
	"github.com/chatgate/chatgate/web/apiroute"
)

// Config configures the admin API.
type Config struct {
	// Store persists credentials (required).
	Store *credstore.Store
	// Registry, when set, is updated right after a successful write so the next push on
	// this node uses the new credential even before the KV watch delivers it (the watch
	// updates every node, this one included; applying twice is a no-op).
	Registry *push.Registry
	// Stats, when set, serves GET /stats (the dispatcher's Stats method).
	Stats func() push.StatsSnapshot
	// Auth decides who may call the API (required).
	Auth   *adminauth.Credentials
	Logger *slog.Logger
	// Now is the clock for certificate validity and UpdatedAt (default time.Now).
	Now func() time.Time
	// MaxBody bounds request bodies (default 1 MiB).
	MaxBody int64
}

type handler struct {
	cfg Config
	log *slog.Logger
	mux http.Handler
}

// New returns the admin API handler. Its routes are relative to where it is mounted, e.g.
// srv.Handle("/admin/push/", http.StripPrefix("/admin/push", h)).
func New(cfg Config) (http.Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("pushadmin: Config.Store is required")
	}
	if cfg.Auth == nil {
		return nil, errors.New("pushadmin: Config.Auth is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	h := &handler{cfg: cfg, log: cfg.Logger}
	// The JSON APIs' router (web/apiroute): 404 and 405-with-Allow in the shared error shape,
	// HEAD on GET routes, and a routing context of its own under the server's chi router.
	r := apiroute.New()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxBody)
			next.ServeHTTP(w, r)
		})
	})
	r.Get("/credentials", h.list)
	// Flat routes, not a chi sub-Route: a mounted sub-router matches every method, so the
	// 405's Allow (apiroute asks the router per method) would list all of them.
	r.Get("/credentials/{kind}/{name}", h.get)
	r.Put("/credentials/{kind}/{name}", h.put)
	r.Delete("/credentials/{kind}/{name}", h.del)
	r.Post("/credentials/webpush/{name}/generate", h.generate)
	r.Get("/stats", h.stats)
	r.Get("/status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, Status{Enabled: true}) })
	h.mux = cfg.Auth.Require(r)
	return h, nil
}

// Status is the answer of GET /status: whether credentials can be managed on this server,
// and why not. The admin console asks it first, so a server without secrets-key shows a
// sentence instead of a failed request.
type Status struct {
	Enabled bool   `json:"enabled"`
	Reason  string `json:"reason,omitempty"`
}

// Off is what is mounted where the API would be when it cannot run (no secrets-key, so
// nothing can be stored): GET /status says so, every other request is 503 unavailable
// with the reason. Behind auth like the API, so it tells nothing to anyone else.
func Off(auth *adminauth.Credentials, reason string) http.Handler {
	r := apiroute.New() // its 404/405 replaced below: everything but /status is unavailable
	r.Get("/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, Status{Enabled: false, Reason: reason})
	})
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		apijson.Error(w, http.StatusServiceUnavailable, apijson.CodeUnavailable, reason)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		apijson.Error(w, http.StatusServiceUnavailable, apijson.CodeUnavailable, reason)
	})
	return auth.Require(r)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, status int, v any) { apijson.Write(w, status, v) }

// writeError answers the shared error shape; the code follows from the status, as every
// error of this API is one of the generic ones.
func writeError(w http.ResponseWriter, status int, msg string) {
	code := apijson.CodeInternal
	switch status {
	case http.StatusBadRequest:
		code = apijson.CodeBadRequest
	case http.StatusNotFound:
		code = apijson.CodeNotFound
	case http.StatusRequestEntityTooLarge:
		code = apijson.CodeTooLarge
	case http.StatusServiceUnavailable:
		code = apijson.CodeUnavailable
	}
	apijson.Error(w, status, code, msg)
}

// keyOf reads {kind}/{name} and ?debug= (push_notification_debug variant).
func keyOf(r *http.Request) (push.CredentialKey, error) {
	k := push.CredentialKey{Kind: push.Kind(chi.URLParam(r, "kind")), Name: chi.URLParam(r, "name")}
	if k.Kind == "" { // the generate route names only the name
		k.Kind = push.KindWebPush
	}
	if d := r.URL.Query().Get("debug"); d != "" {
		b, err := strconv.ParseBool(d)
		if err != nil {
			return k, fmt.Errorf("debug=%q is not true or false", d)
		}
		k.Debug = b
	}
	return k, k.Validate()
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	cs, err := h.cfg.Store.List(r.Context())
	if err != nil {
		h.log.Error("push admin list", "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	out := make([]infoOut, 0, len(cs))
	for _, c := range cs {
		info, err := c.Validate(h.cfg.Now())
		out = append(out, withProblem(info, err))
	}
	writeJSON(w, http.StatusOK, map[string]any{"credentials": out})
}

// infoOut is a CredentialInfo plus what is wrong with it now (e.g. expired since upload).
type infoOut struct {
	push.CredentialInfo
	Problem string `json:"problem,omitempty"`
}

func withProblem(info push.CredentialInfo, err error) infoOut {
	o := infoOut{CredentialInfo: info}
	if err != nil {
		o.Problem = err.Error()
	}
	return o
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	k, err := keyOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c, err := h.cfg.Store.Get(r.Context(), k)
	if errors.Is(err, credstore.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no credential "+k.String())
		return
	}
	if err != nil {
		h.log.Error("push admin get", "key", k.String(), "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable or credential unreadable")
		return
	}
	info, verr := c.Validate(h.cfg.Now())
	writeJSON(w, http.StatusOK, withProblem(info, verr))
}

// Upload bodies. Binary material travels as text: the .p8 as its PEM, the .p12 as base64,
// the service account as the JSON object Google hands out (or that JSON as a string).
type apnsUpload struct {
	AuthKeyP8           string `json:"authKeyP8"`
	KeyID               string `json:"keyId"`
	TeamID              string `json:"teamId"`
	CertificateP12      string `json:"certificateP12"`
	CertificatePassword string `json:"certificatePassword"`
	Topic               string `json:"topic"`
	Environment         string `json:"environment"`
}

type fcmUpload struct {
	ServiceAccount json.RawMessage `json:"serviceAccount"`
	ProjectID      string          `json:"projectId"`
}

func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

// parseUpload turns an upload body into a Credential for k.
func parseUpload(k push.CredentialKey, body io.Reader) (push.Credential, error) {
	c := push.Credential{Key: k}
	switch k.Kind {
	case push.KindAPNs:
		var u apnsUpload
		if err := decodeStrict(body, &u); err != nil {
			return c, err
		}
		a := &push.APNsCredential{AuthKeyP8: []byte(u.AuthKeyP8), KeyID: u.KeyID, TeamID: u.TeamID,
			CertificatePassword: u.CertificatePassword, Topic: u.Topic, Environment: u.Environment}
		if u.CertificateP12 != "" {
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(u.CertificateP12))
			if err != nil {
				return c, fmt.Errorf("certificateP12 must be the .p12 file in standard base64: %w", err)
			}
			a.CertificateP12 = b
		}
		c.APNs = a
	case push.KindFCM:
		var u fcmUpload
		if err := decodeStrict(body, &u); err != nil {
			return c, err
		}
		sa := []byte(u.ServiceAccount)
		var s string
		if json.Unmarshal(sa, &s) == nil {
			sa = []byte(s)
		}
		if len(sa) == 0 {
			return c, errors.New("serviceAccount (the service-account JSON key) is required")
		}
		c.FCM = &push.FCMCredential{ServiceAccountJSON: sa, ProjectID: u.ProjectID}
	case push.KindWebPush:
		var v push.VAPIDCredential
		if err := decodeStrict(body, &v); err != nil {
			return c, err
		}
		v.Subject = push.NormalizeVAPIDSubject(v.Subject)
		c.WebPush = &v
	case push.KindHTTP:
		var v push.HTTPCredential
		if err := decodeStrict(body, &v); err != nil {
			return c, err
		}
		c.HTTP = &v
	}
	return c, nil
}

// store validates c, stores it and installs it on this node. The answer is c's public
// description, with the warning of a certificate that expires soon.
func (h *handler) store(w http.ResponseWriter, ctx context.Context, c push.Credential) (push.CredentialInfo, bool) {
	c.UpdatedAt = h.cfg.Now().UTC()
	info, err := c.Validate(h.cfg.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return info, false
	}
	rev, err := h.cfg.Store.Put(ctx, c)
	if err != nil {
		h.log.Error("push admin put", "key", c.Key.String(), "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return info, false
	}
	c.Revision = rev
	if h.cfg.Registry != nil {
		if _, err := h.cfg.Registry.Apply(c); err != nil {
			// Validated above, so this is a provider construction problem; the stored
			// value stays and the watch will retry on every node.
			h.log.Error("push admin apply", "key", c.Key.String(), "err", err)
		}
	}
	h.log.Info("push credential stored", "key", c.Key.String(), "fingerprint", info.Fingerprint)
	return info, true
}

func (h *handler) put(w http.ResponseWriter, r *http.Request) {
	k, err := keyOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c, err := parseUpload(k, r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if info, ok := h.store(w, r.Context(), c); ok {
		writeJSON(w, http.StatusOK, info)
	}
}

func (h *handler) del(w http.ResponseWriter, r *http.Request) {
	k, err := keyOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	err = h.cfg.Store.Delete(r.Context(), k)
	switch {
	case errors.Is(err, credstore.ErrNotFound):
		writeError(w, http.StatusNotFound, "no credential "+k.String())
		return
	case err != nil:
		h.log.Error("push admin delete", "key", k.String(), "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	if h.cfg.Registry != nil {
		h.cfg.Registry.Remove(k)
	}
	h.log.Info("push credential deleted", "key", k.String())
	w.WriteHeader(http.StatusNoContent)
}

// generateOut is the answer of generate: the new key's description and, for a rotation,
// the fingerprint of the key it replaced.
type generateOut struct {
	push.CredentialInfo
	Rotated             bool   `json:"rotated"`
	PreviousFingerprint string `json:"previousFingerprint,omitempty"`
}

// generate makes a VAPID key pair, stores it and returns the public key (the widget's
// applicationServerKey). The private key never leaves the server. Generating again for a
// name that has a key rotates it: the new pair replaces the old one in one store write
// and one registry swap, so the next push on every node is signed with the new key and
// the public key endpoint serves it. An empty subject keeps the old key's subject.
// Browsers subscribed with the old key must subscribe again (docs/push.md, "Rotating the
// VAPID key").
func (h *handler) generate(w http.ResponseWriter, r *http.Request) {
	k, err := keyOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var body struct {
		Subject string `json:"subject"`
	}
	if err := decodeStrict(r.Body, &body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var out generateOut
	old, err := h.cfg.Store.Get(r.Context(), k)
	switch {
	case err == nil && old.WebPush != nil:
		oldInfo, _ := old.Validate(h.cfg.Now())
		out.Rotated, out.PreviousFingerprint = true, oldInfo.Fingerprint
		if strings.TrimSpace(body.Subject) == "" {
			body.Subject = old.WebPush.Subject
		}
	case err != nil && !errors.Is(err, credstore.ErrNotFound):
		h.log.Error("push admin generate", "key", k.String(), "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable or credential unreadable")
		return
	}
	v, err := push.GenerateVAPID(body.Subject)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "key generation failed")
		return
	}
	info, ok := h.store(w, r.Context(), push.Credential{Key: k, WebPush: &v})
	if !ok {
		return
	}
	out.CredentialInfo = info
	if out.Rotated {
		h.log.Info("push VAPID key rotated", "key", k.String(), "fingerprint", info.Fingerprint, "previous", out.PreviousFingerprint)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) stats(w http.ResponseWriter, _ *http.Request) {
	if h.cfg.Stats == nil {
		writeError(w, http.StatusNotFound, "no dispatcher")
		return
	}
	writeJSON(w, http.StatusOK, h.cfg.Stats())
}
