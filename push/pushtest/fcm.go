package pushtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FCMMessage is one message the FCM fake accepted (the "message" object of the v1 API).
type FCMMessage struct {
	Token        string `json:"token"`
	Notification *struct {
		Title string `json:"title"`
		Body  string `json:"body"`
	} `json:"notification"`
	Data    map[string]string `json:"data"`
	Android struct {
		Priority    string `json:"priority"`
		TTL         string `json:"ttl"`
		CollapseKey string `json:"collapse_key"`
	} `json:"android"`
	APNs struct {
		Headers map[string]string `json:"headers"`
	} `json:"apns"`
}

// FCM is a local FCM HTTP v1 endpoint plus the OAuth2 token endpoint a service account
// talks to: POST /token exchanges an RS256 JWT-bearer assertion (RFC 7523) signed by the
// service account's key for an access token; POST /v1/projects/{id}/messages:send accepts
// messages bearing a token it issued and answers errors in google.rpc.Status form with
// the FcmError errorCode.
type FCM struct {
	Server    *httptest.Server
	ProjectID string
	Email     string
	Key       *rsa.PrivateKey

	script   script
	mu       sync.Mutex
	tokens   map[string]time.Time // issued access tokens → expiry
	got      []FCMMessage
	keep     int
	count    atomic.Int64
	sendReq  atomic.Int64
	tokenReq atomic.Int64
}

// StartFCM starts the fake with a fresh 2048-bit service-account key.
func StartFCM(projectID string, keep int) (*FCM, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	f := &FCM{ProjectID: projectID, Email: "chatgate@" + projectID + ".iam.gserviceaccount.com", Key: k,
		tokens: map[string]time.Time{}, keep: keep}
	if f.keep == 0 {
		f.keep = 10000
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", f.serveToken)
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", f.serveSend)
	f.Server = httptest.NewUnstartedServer(mux)
	f.Server.EnableHTTP2 = true
	f.Server.StartTLS()
	return f, nil
}

// ServiceAccountJSON is a Google service-account key file whose token_uri is this fake.
func (f *FCM) ServiceAccountJSON() []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(f.Key)
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": f.ProjectID, "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": f.Email, "client_id": "1", "token_uri": f.Server.URL + "/token",
	})
	return b
}

// Script queues replies for a registration token (then 200).
func (f *FCM) Script(token string, r ...Reply) { f.script.add(token, r...) }

// Always makes every message to token answer r.
func (f *FCM) Always(token string, r Reply) { f.script.setAlways(token, r) }

// Messages returns the accepted messages.
func (f *FCM) Messages() []FCMMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FCMMessage(nil), f.got...)
}

// Count is the number of accepted messages; SendRequests the number of send requests,
// answered with an error or not; TokenRequests the number of token exchanges.
func (f *FCM) Count() int64         { return f.count.Load() }
func (f *FCM) SendRequests() int64  { return f.sendReq.Load() }
func (f *FCM) TokenRequests() int64 { return f.tokenReq.Load() }

// RevokeTokens forgets every issued access token (the next send gets 401).
func (f *FCM) RevokeTokens() {
	f.mu.Lock()
	clear(f.tokens)
	f.mu.Unlock()
}

// Close stops the server.
func (f *FCM) Close() { f.Server.Close() }

func oauthError(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, code, desc)
}

func (f *FCM) serveToken(w http.ResponseWriter, r *http.Request) {
	f.tokenReq.Add(1)
	if err := r.ParseForm(); err != nil {
		oauthError(w, "invalid_request", "bad form")
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthError(w, "unsupported_grant_type", "want jwt-bearer")
		return
	}
	var claims jwt.MapClaims
	_, err := jwt.ParseWithClaims(r.PostForm.Get("assertion"), &claims, func(*jwt.Token) (any, error) {
		return &f.Key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(f.Server.URL+"/token"),
		jwt.WithIssuer(f.Email), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		oauthError(w, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	if scope, _ := claims["scope"].(string); !strings.Contains(scope, "https://www.googleapis.com/auth/firebase.messaging") {
		oauthError(w, "invalid_scope", "missing firebase.messaging scope")
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := "ya29." + hex.EncodeToString(b[:])
	f.mu.Lock()
	f.tokens[tok] = time.Now().Add(time.Hour)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":3599,"token_type":"Bearer"}`, tok)
}

func fcmError(w http.ResponseWriter, status int, rpcStatus, errorCode, msg string, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	details := "[]"
	switch {
	case errorCode == "INVALID_ARGUMENT_TOKEN":
		errorCode = "INVALID_ARGUMENT"
		details = `[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"},{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token","description":"Invalid registration token"}]}]`
	case errorCode != "":
		details = fmt.Sprintf(`[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":%q}]`, errorCode)
	}
	fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"status":%q,"details":%s}}`, status, msg, rpcStatus, details)
}

var fcmStatus = map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
	404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}

func (f *FCM) serveSend(w http.ResponseWriter, r *http.Request) {
	f.sendReq.Add(1)
	if r.PathValue("project") != f.ProjectID {
		fcmError(w, 403, "PERMISSION_DENIED", "", "Permission 'cloudmessaging.messages.create' denied on resource", "")
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	exp, known := f.tokens[tok]
	f.mu.Unlock()
	if !ok || !known || time.Now().After(exp) {
		fcmError(w, 401, "UNAUTHENTICATED", "", "Request had invalid authentication credentials.", "")
		return
	}
	var req struct {
		Message *FCMMessage `json:"message"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(body, &req); err != nil || req.Message == nil {
		fcmError(w, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid JSON payload received.", "")
		return
	}
	m := req.Message
	if m.Token == "" {
		fcmError(w, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Recipient of the message is not set.", "")
		return
	}
	if len(body) > 4096+512 {
		fcmError(w, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Message is too big", "")
		return
	}
	// The v1 reference names the enum HIGH/NORMAL; FCM also takes the lower-case names the
	// Firebase Admin SDK sends ("high"/"normal"). Anything else is refused as FCM does.
	if p := strings.ToUpper(m.Android.Priority); p != "" && p != "HIGH" && p != "NORMAL" {
		fcmError(w, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid value at 'message.android.priority'", "")
		return
	}
	if m.Android.TTL != "" && !strings.HasSuffix(m.Android.TTL, "s") {
		fcmError(w, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid value at 'message.android.ttl'", "")
		return
	}
	if rep, ok := f.script.next(m.Token); ok && rep.Status != http.StatusOK {
		msg := "Requested entity was not found."
		if rep.Reason == "INVALID_ARGUMENT_TOKEN" {
			msg = "The registration token is not a valid FCM registration token"
		}
		fcmError(w, rep.Status, fcmStatus[rep.Status], rep.Reason, msg, rep.RetryAfter)
		return
	}
	f.mu.Lock()
	if len(f.got) < f.keep {
		f.got = append(f.got, *m)
	}
	f.mu.Unlock()
	f.count.Add(1) // after recording: a waiter on Count then finds the request recorded
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	fmt.Fprintf(w, `{"name":"projects/%s/messages/%d"}`, f.ProjectID, time.Now().UnixNano())
}
