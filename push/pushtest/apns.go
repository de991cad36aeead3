package pushtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// APNsRequest is one notification the APNs fake accepted.
type APNsRequest struct {
	DeviceToken string
	Topic       string
	PushType    string
	Priority    string
	CollapseID  string
	Expiration  string
	Payload     map[string]any
	Raw         []byte
}

// APNs is a local HTTP/2 APNs provider API: POST /3/device/{token}, ES256 provider token
// (kid = key id, iss = team id) or a client certificate, Apple's status codes and reasons.
type APNs struct {
	Server *httptest.Server
	// Key is the .p8 key the fake accepts tokens from; KeyP8 is its PEM.
	Key                  *ecdsa.PrivateKey
	KeyP8                []byte
	KeyID, TeamID, Topic string

	script   script
	mu       sync.Mutex
	keys     map[string]*ecdsa.PublicKey // kid → key (rotation)
	got      []APNsRequest
	keep     int
	count    atomic.Int64
	verified atomic.Value // verifiedToken: the last good provider token
	// requireCert: certificate auth (StartAPNsCert) instead of provider tokens.
	requireCert bool
}

// StartAPNs starts a token-auth APNs fake with a fresh P-256 key. keep bounds how many
// accepted requests are kept for inspection (0 = 10,000); all are counted.
func StartAPNs(topic string, keep int) (*APNs, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	f := &APNs{Key: k, KeyP8: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		KeyID: "ABC123DEFG", TeamID: "TEAM123456", Topic: topic, keep: keep,
		keys: map[string]*ecdsa.PublicKey{}}
	f.keys[f.KeyID] = &k.PublicKey
	if f.keep == 0 {
		f.keep = 10000
	}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.Server.EnableHTTP2 = true
	f.Server.StartTLS()
	return f, nil
}

// StartAPNsCert starts an APNs fake that authenticates by client certificate: the client
// must present a certificate signed by ca.
func StartAPNsCert(topic string, ca *x509.Certificate) *APNs {
	f := &APNs{Topic: topic, keep: 10000, keys: map[string]*ecdsa.PublicKey{}, requireCert: true}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.Server.EnableHTTP2 = true
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	f.Server.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	f.Server.StartTLS()
	return f
}

// AddKey makes the fake also accept tokens signed by key under kid (key rotation).
func (f *APNs) AddKey(kid string, pub *ecdsa.PublicKey) {
	f.mu.Lock()
	f.keys[kid] = pub
	f.mu.Unlock()
}

// Script queues replies for a device token (then 200).
func (f *APNs) Script(token string, r ...Reply) { f.script.add(token, r...) }

// Always makes every push to token answer r.
func (f *APNs) Always(token string, r Reply) { f.script.setAlways(token, r) }

// Requests returns the accepted notifications so far.
func (f *APNs) Requests() []APNsRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]APNsRequest(nil), f.got...)
}

// Count is the number of accepted notifications.
func (f *APNs) Count() int64 { return f.count.Load() }

// Close stops the server.
func (f *APNs) Close() { f.Server.Close() }

func apnsError(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("apns-id", newUUID())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status == http.StatusGone {
		fmt.Fprintf(w, `{"reason":%q,"timestamp":%d}`, reason, time.Now().UnixMilli())
		return
	}
	fmt.Fprintf(w, `{"reason":%q}`, reason)
}

func (f *APNs) serve(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 {
		apnsError(w, http.StatusBadRequest, "BadPath") // Apple speaks HTTP/2 only
		return
	}
	if r.Method != http.MethodPost {
		apnsError(w, http.StatusMethodNotAllowed, "MethodNotAllowed")
		return
	}
	tok, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	if !ok {
		apnsError(w, http.StatusNotFound, "BadPath")
		return
	}
	if !f.requireCert {
		if reason := f.checkToken(r.Header.Get("authorization")); reason != "" {
			apnsError(w, http.StatusForbidden, reason)
			return
		}
	} else if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		apnsError(w, http.StatusForbidden, "BadCertificate")
		return
	}
	if tok == "" {
		apnsError(w, http.StatusBadRequest, "MissingDeviceToken")
		return
	}
	topic := r.Header.Get("apns-topic")
	switch {
	case topic == "":
		apnsError(w, http.StatusBadRequest, "MissingTopic")
		return
	case topic != f.Topic:
		apnsError(w, http.StatusBadRequest, "DeviceTokenNotForTopic")
		return
	}
	pt := r.Header.Get("apns-push-type")
	switch pt {
	case "alert", "background", "voip", "complication", "fileprovider", "mdm", "liveactivity":
	default:
		apnsError(w, http.StatusBadRequest, "InvalidPushType")
		return
	}
	prio := r.Header.Get("apns-priority")
	if prio != "" && prio != "10" && prio != "5" && prio != "1" {
		apnsError(w, http.StatusBadRequest, "BadPriority")
		return
	}
	if pt == "background" && prio == "10" {
		apnsError(w, http.StatusBadRequest, "BadPriority")
		return
	}
	if len(r.Header.Get("apns-collapse-id")) > 64 {
		apnsError(w, http.StatusBadRequest, "BadCollapseId")
		return
	}
	if e := r.Header.Get("apns-expiration"); e != "" {
		if _, err := strconv.ParseInt(e, 10, 64); err != nil {
			apnsError(w, http.StatusBadRequest, "BadExpirationDate")
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4097))
	if err != nil {
		apnsError(w, http.StatusBadRequest, "PayloadEmpty")
		return
	}
	if len(body) > 4096 {
		apnsError(w, http.StatusRequestEntityTooLarge, "PayloadTooLarge")
		return
	}
	var head struct {
		APS json.RawMessage `json:"aps"`
	}
	if len(body) == 0 || json.Unmarshal(body, &head) != nil || len(head.APS) < 2 || head.APS[0] != '{' {
		apnsError(w, http.StatusBadRequest, "PayloadEmpty")
		return
	}
	if rep, ok := f.script.next(tok); ok && rep.Status != http.StatusOK {
		if rep.RetryAfter != "" {
			w.Header().Set("Retry-After", rep.RetryAfter)
		}
		apnsError(w, rep.Status, rep.Reason)
		return
	}
	f.mu.Lock()
	if len(f.got) < f.keep {
		var payload map[string]any
		_ = json.Unmarshal(body, &payload)
		f.got = append(f.got, APNsRequest{DeviceToken: tok, Topic: topic, PushType: pt, Priority: prio,
			CollapseID: r.Header.Get("apns-collapse-id"), Expiration: r.Header.Get("apns-expiration"), Payload: payload, Raw: body})
	}
	f.mu.Unlock()
	f.count.Add(1) // after recording: a waiter on Count then finds the request recorded
	w.Header().Set("apns-id", newUUID())
	w.WriteHeader(http.StatusOK)
}

// checkToken verifies the provider authentication token and returns Apple's reason on
// failure.
func (f *APNs) checkToken(h string) string {
	if h == "" {
		return "MissingProviderToken"
	}
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "InvalidProviderToken"
	}
	// Like Apple, verify a token once and recognise it afterwards (until its key is
	// revoked or it is an hour old): signature checks would otherwise dominate benchmarks.
	if v, ok := f.verified.Load().(verifiedToken); ok && v.header == h && time.Since(v.iat) <= time.Hour && f.keyLive(v.kid) {
		return ""
	}
	tokStr := h[7:]
	var claims jwt.MapClaims
	t, err := jwt.ParseWithClaims(tokStr, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		f.mu.Lock()
		k := f.keys[kid]
		f.mu.Unlock()
		if k == nil {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return k, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithoutClaimsValidation())
	if err != nil || !t.Valid {
		return "InvalidProviderToken"
	}
	if iss, _ := claims["iss"].(string); iss != f.TeamID {
		return "InvalidProviderToken"
	}
	iat, ok := claims["iat"].(float64)
	if !ok {
		return "InvalidProviderToken"
	}
	if time.Since(time.Unix(int64(iat), 0)) > time.Hour {
		return "ExpiredProviderToken"
	}
	kid, _ := t.Header["kid"].(string)
	f.verified.Store(verifiedToken{header: h, kid: kid, iat: time.Unix(int64(iat), 0)})
	return ""
}

type verifiedToken struct {
	header, kid string
	iat         time.Time
}

func (f *APNs) keyLive(kid string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys[kid] != nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
