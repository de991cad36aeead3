package pushtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
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

// WebPushMessage is one push the fake accepted, decrypted.
type WebPushMessage struct {
	Subscription string // id of the subscription (last path element)
	Plaintext    []byte
	BodyLen      int
	TTL          int
	Urgency      string
	Topic        string
	Subject      string // VAPID JWT sub
	// VAPIDKey is the application server key (base64url) whose private half signed the
	// JWT: the fake verified the signature with it.
	VAPIDKey string
}

// WebPush is a local push service (RFC 8030 endpoint) that, like a real one, checks the
// VAPID authorization (RFC 8292: ES256 JWT with aud = endpoint origin, exp ≤ 24 h ahead,
// sub mailto:/https:, k = the application server key, the signature verified with k) and,
// like the browser would, decrypts the RFC 8291 aes128gcm body with the subscription's
// private key. A subscription made with SubscribeWithKey is bound to that application
// server key, as every real push service binds it (RFC 8292 §4.2): a push signed with
// another key is refused with 403, which is what a VAPID rotation does to the
// subscriptions browsers made with the old key.
type WebPush struct {
	Server *httptest.Server
	// VAPIDPublicKey, when set, is the only application server key accepted (base64url).
	VAPIDPublicKey string

	script script
	mu     sync.Mutex
	subs   map[string]*receiver
	got    []WebPushMessage
	keep   int
	count  atomic.Int64
	seq    atomic.Int64
}

type receiver struct {
	priv *ecdh.PrivateKey
	auth []byte
	key  string // the applicationServerKey it was made with (base64url); "" accepts any
}

// StartWebPush starts the fake push service.
func StartWebPush(keep int) *WebPush {
	f := &WebPush{subs: map[string]*receiver{}, keep: keep}
	if f.keep == 0 {
		f.keep = 10000
	}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.Server.EnableHTTP2 = true
	f.Server.StartTLS()
	return f
}

// Subscribe creates a browser-side subscription: a fresh P-256 key pair and auth secret,
// and an endpoint on this fake. It returns the endpoint, p256dh and auth as a browser's
// PushSubscription.toJSON() would (base64url, unpadded), and the subscription id.
func (f *WebPush) Subscribe() (id, endpoint, p256dh, auth string) {
	return f.SubscribeWithKey("")
}

// SubscribeWithKey is Subscribe for a browser that passed applicationServerKey (base64url)
// to pushManager.subscribe: the subscription accepts only pushes signed with that key.
func (f *WebPush) SubscribeWithKey(applicationServerKey string) (id, endpoint, p256dh, auth string) {
	priv, _ := ecdh.P256().GenerateKey(rand.Reader)
	a := make([]byte, 16)
	_, _ = rand.Read(a)
	id = "s" + strconv.FormatInt(f.seq.Add(1), 10)
	f.mu.Lock()
	f.subs[id] = &receiver{priv: priv, auth: a, key: strings.TrimRight(applicationServerKey, "=")}
	f.mu.Unlock()
	enc := base64.RawURLEncoding
	return id, f.Server.URL + "/push/" + id, enc.EncodeToString(priv.PublicKey().Bytes()), enc.EncodeToString(a)
}

// Script queues replies for subscription id (then 201).
func (f *WebPush) Script(id string, r ...Reply) { f.script.add(id, r...) }

// Always makes every push to subscription id answer r.
func (f *WebPush) Always(id string, r Reply) { f.script.setAlways(id, r) }

// Messages returns the accepted, decrypted messages.
func (f *WebPush) Messages() []WebPushMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]WebPushMessage(nil), f.got...)
}

// Count is the number of accepted messages.
func (f *WebPush) Count() int64 { return f.count.Load() }

// Close stops the server.
func (f *WebPush) Close() { f.Server.Close() }

func (f *WebPush) serve(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutPrefix(r.URL.Path, "/push/")
	f.mu.Lock()
	rcv := f.subs[id]
	f.mu.Unlock()
	if !ok || r.Method != http.MethodPost || rcv == nil {
		http.Error(w, "no such subscription", http.StatusNotFound)
		return
	}
	ttl, err := strconv.Atoi(r.Header.Get("TTL"))
	if err != nil || ttl < 0 {
		http.Error(w, "TTL header required", http.StatusBadRequest)
		return
	}
	if u := r.Header.Get("Urgency"); u != "" && u != "very-low" && u != "low" && u != "normal" && u != "high" {
		http.Error(w, "bad Urgency", http.StatusBadRequest)
		return
	}
	if t := r.Header.Get("Topic"); len(t) > 32 {
		http.Error(w, "bad Topic", http.StatusBadRequest)
		return
	}
	sub, k, err := f.checkVAPID(r.Header.Get("Authorization"))
	if err != nil {
		http.Error(w, "VAPID: "+err.Error(), http.StatusForbidden)
		return
	}
	if rcv.key != "" && k != rcv.key {
		http.Error(w, "VAPID: the subscription was made with another application server key", http.StatusForbidden)
		return
	}
	if r.Header.Get("Content-Encoding") != "aes128gcm" {
		http.Error(w, "Content-Encoding must be aes128gcm", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4097))
	if err != nil || len(body) > 4096 {
		http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		return
	}
	plain, err := decryptAES128GCM(rcv.priv, rcv.auth, body)
	if err != nil {
		http.Error(w, "decrypt: "+err.Error(), http.StatusBadRequest)
		return
	}
	if rep, ok := f.script.next(id); ok && rep.Status/100 != 2 {
		if rep.RetryAfter != "" {
			w.Header().Set("Retry-After", rep.RetryAfter)
		}
		http.Error(w, rep.Reason, rep.Status)
		return
	}
	f.mu.Lock()
	if len(f.got) < f.keep {
		f.got = append(f.got, WebPushMessage{Subscription: id, Plaintext: plain, BodyLen: len(body), TTL: ttl,
			Urgency: r.Header.Get("Urgency"), Topic: r.Header.Get("Topic"), Subject: sub, VAPIDKey: k})
	}
	f.mu.Unlock()
	f.count.Add(1) // after recording: a waiter on Count then finds the request recorded
	w.Header().Set("Location", f.Server.URL+"/msg/"+strconv.FormatInt(time.Now().UnixNano(), 36))
	w.WriteHeader(http.StatusCreated)
}

// checkVAPID verifies "vapid t=<jwt>, k=<key>" (the JWT's ES256 signature with k) and
// returns the JWT subject and k (base64url, unpadded).
func (f *WebPush) checkVAPID(h string) (string, string, error) {
	rest, ok := strings.CutPrefix(h, "vapid ")
	if !ok {
		return "", "", errors.New("authorization must use the vapid scheme")
	}
	var t, k string
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if v, ok := strings.CutPrefix(part, "t="); ok {
			t = v
		} else if v, ok := strings.CutPrefix(part, "k="); ok {
			k = v
		}
	}
	if f.VAPIDPublicKey != "" && strings.TrimRight(k, "=") != strings.TrimRight(f.VAPIDPublicKey, "=") {
		return "", "", errors.New("unexpected application server key")
	}
	kb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k, "="))
	if err != nil {
		return "", "", errors.New("k is not base64url")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), kb)
	if err != nil {
		return "", "", errors.New("k is not an uncompressed P-256 point")
	}
	var claims jwt.MapClaims
	_, err = jwt.ParseWithClaims(t, &claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(f.Server.URL), jwt.WithExpirationRequired())
	if err != nil {
		return "", "", err
	}
	exp, _ := claims.GetExpirationTime()
	if exp.After(time.Now().Add(24 * time.Hour)) {
		return "", "", errors.New("exp more than 24 hours ahead")
	}
	sub, _ := claims["sub"].(string)
	if !(strings.HasPrefix(sub, "https:") || strings.HasPrefix(sub, "mailto:")) || strings.HasPrefix(sub, "mailto:mailto:") {
		return "", "", fmt.Errorf("bad sub %q", sub)
	}
	return sub, strings.TrimRight(k, "="), nil
}

// decryptAES128GCM undoes RFC 8291 + RFC 8188 for a single record.
func decryptAES128GCM(priv *ecdh.PrivateKey, auth, body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("short header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if idlen != 65 || len(body) < 21+idlen {
		return nil, errors.New("keyid must be the 65-byte sender public key")
	}
	senderPub, err := ecdh.P256().NewPublicKey(body[21 : 21+idlen])
	if err != nil {
		return nil, fmt.Errorf("sender key: %w", err)
	}
	ct := body[21+idlen:]
	if rs < 18 || uint32(len(body)) > rs || len(ct) < 17 {
		return nil, fmt.Errorf("record size %d does not hold a %d-byte single record", rs, len(body))
	}
	shared, err := priv.ECDH(senderPub)
	if err != nil {
		return nil, err
	}
	info := append(append([]byte("WebPush: info\x00"), priv.PublicKey().Bytes()...), senderPub.Bytes()...)
	ikm, err := hkdf.Key(sha256.New, shared, auth, string(info), 32)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	blk, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, err
	}
	pt, err := gcm.Open(nil, nonce, ct, nil)
	if err != nil {
		return nil, fmt.Errorf("aes-gcm: %w", err)
	}
	// Strip padding: the last non-zero octet is the delimiter, 0x02 for the last record.
	i := len(pt) - 1
	for i >= 0 && pt[i] == 0 {
		i--
	}
	if i < 0 || pt[i] != 2 {
		return nil, errors.New("missing last-record delimiter")
	}
	return pt[:i], nil
}
