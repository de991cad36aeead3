package push

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sideshow/apns2/certificate"
	"github.com/sideshow/apns2/token"
)

// CredentialKey names one credential: provider kind, configuration name
// (push_notification_provider) and variant (push_notification_debug).
type CredentialKey struct {
	Kind  Kind   `json:"kind"`
	Name  string `json:"name"`
	Debug bool   `json:"debug"`
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// String is the storage key: "<kind>.<name>.<debug|production>".
func (k CredentialKey) String() string {
	v := "production"
	if k.Debug {
		v = "debug"
	}
	return string(k.Kind) + "." + k.Name + "." + v
}

// Validate checks the kind and the name (letters, digits, '_' and '-', 1–64 characters).
func (k CredentialKey) Validate() error {
	if !slices.Contains(Kinds, k.Kind) {
		return fmt.Errorf("push: credential kind %q is not one of webpush, apns, fcm, customhttp: %w", k.Kind, ErrInvalid)
	}
	if !namePattern.MatchString(k.Name) {
		return fmt.Errorf("push: credential name %q must be 1-64 letters, digits, '_' or '-': %w", k.Name, ErrInvalid)
	}
	return nil
}

// Credential is the secret material of one provider configuration. Exactly one of the
// kind-specific fields is set, matching Key.Kind.
type Credential struct {
	Key       CredentialKey    `json:"key"`
	APNs      *APNsCredential  `json:"apns,omitempty"`
	FCM       *FCMCredential   `json:"fcm,omitempty"`
	WebPush   *VAPIDCredential `json:"webpush,omitempty"`
	HTTP      *HTTPCredential  `json:"customhttp,omitempty"`
	UpdatedAt time.Time        `json:"updatedAt"`
}

// APNsCredential is either token auth (AuthKeyP8 + KeyID + TeamID) or certificate auth
// (CertificateP12 + CertificatePassword). Topic is the app's bundle id. The environment is
// sandbox for the debug variant and production otherwise, unless Environment says.
type APNsCredential struct {
	AuthKeyP8           []byte `json:"authKeyP8,omitempty"` // PEM "PRIVATE KEY" (.p8)
	KeyID               string `json:"keyId,omitempty"`
	TeamID              string `json:"teamId,omitempty"`
	CertificateP12      []byte `json:"certificateP12,omitempty"`
	CertificatePassword string `json:"certificatePassword,omitempty"`
	Topic               string `json:"topic"`
	// Environment is "sandbox", "production" or "" (debug variant → sandbox).
	Environment string `json:"environment,omitempty"`
}

// FCMCredential is a Google service-account JSON key; ProjectID overrides its project_id.
type FCMCredential struct {
	ServiceAccountJSON []byte `json:"serviceAccountJson"`
	ProjectID          string `json:"projectId,omitempty"`
}

// VAPIDCredential is the application server key pair (base64url, raw P-256) and the JWT
// subject ("mailto:ops@example.com" or an https URL; "ops@example.com" is accepted).
type VAPIDCredential struct {
	PublicKey  string `json:"publicKey"`
	PrivateKey string `json:"privateKey"`
	Subject    string `json:"subject"`
}

// HTTPCredential configures the custom HTTP ("customhttp") provider: POST {deviceId,
// message} to URL with an optional Authorization header value; Message is the text used when
// a notification has no body (GMS customhttp.message).
type HTTPCredential struct {
	URL           string `json:"url"`
	Authorization string `json:"authorization,omitempty"`
	Message       string `json:"message,omitempty"`
}

// CredentialInfo is what may be shown about a credential: never secret material.
type CredentialInfo struct {
	Key         CredentialKey `json:"key"`
	Fingerprint string        `json:"fingerprint"` // sha256 of the secret material, first 16 bytes, hex
	UpdatedAt   time.Time     `json:"updatedAt"`
	// Kind-specific public facts.
	KeyID       string    `json:"keyId,omitempty"`
	TeamID      string    `json:"teamId,omitempty"`
	Topic       string    `json:"topic,omitempty"`
	Environment string    `json:"environment,omitempty"`
	Subject     string    `json:"subject,omitempty"` // certificate subject or VAPID subject
	NotAfter    time.Time `json:"notAfter,omitzero"`
	ProjectID   string    `json:"projectId,omitempty"`
	ClientEmail string    `json:"clientEmail,omitempty"`
	PublicKey   string    `json:"publicKey,omitempty"` // VAPID public key (the widget needs it)
	URL         string    `json:"url,omitempty"`
}

// ErrCredential wraps every credential validation failure.
var ErrCredential = errors.New("push: invalid credential")

func credErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrCredential, fmt.Sprintf(format, a...))
}

// Validate parses the secret material and returns its public description. now is used to
// reject expired certificates. Error messages say exactly what is wrong and never contain
// the secret.
func (c *Credential) Validate(now time.Time) (CredentialInfo, error) {
	if err := c.Key.Validate(); err != nil {
		return CredentialInfo{}, fmt.Errorf("%w: %w", ErrCredential, err)
	}
	info := CredentialInfo{Key: c.Key, UpdatedAt: c.UpdatedAt}
	set := 0
	for _, b := range []bool{c.APNs != nil, c.FCM != nil, c.WebPush != nil, c.HTTP != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		return info, credErr("exactly one of apns, fcm, webpush, customhttp must be given (got %d)", set)
	}
	var err error
	switch c.Key.Kind {
	case KindAPNs:
		if c.APNs == nil {
			return info, credErr("kind apns needs the apns object")
		}
		err = c.APNs.validate(c.Key, now, &info)
	case KindFCM:
		if c.FCM == nil {
			return info, credErr("kind fcm needs the fcm object")
		}
		_, err = c.FCM.parse(&info)
	case KindWebPush:
		if c.WebPush == nil {
			return info, credErr("kind webpush needs the webpush object")
		}
		err = c.WebPush.validate(&info)
	case KindHTTP:
		if c.HTTP == nil {
			return info, credErr("kind customhttp needs the customhttp object")
		}
		err = c.HTTP.validate(&info)
	}
	if err != nil {
		return info, err
	}
	info.Fingerprint = c.Fingerprint()
	return info, nil
}

// Fingerprint identifies the secret material without revealing it.
func (c *Credential) Fingerprint() string {
	h := sha256.New()
	b, _ := json.Marshal(struct {
		A *APNsCredential
		F *FCMCredential
		W *VAPIDCredential
		H *HTTPCredential
	}{c.APNs, c.FCM, c.WebPush, c.HTTP})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (a *APNsCredential) environment(k CredentialKey) string {
	switch a.Environment {
	case "sandbox", "development":
		return "sandbox"
	case "production":
		return "production"
	}
	if k.Debug {
		return "sandbox"
	}
	return "production"
}

func (a *APNsCredential) validate(k CredentialKey, now time.Time, info *CredentialInfo) error {
	if a.Topic == "" {
		return credErr("apns.topic (the app bundle id) is required")
	}
	switch a.Environment {
	case "", "sandbox", "development", "production":
	default:
		return credErr("apns.environment %q must be sandbox or production", a.Environment)
	}
	info.Topic, info.Environment = a.Topic, a.environment(k)
	hasKey, hasCert := len(a.AuthKeyP8) > 0, len(a.CertificateP12) > 0
	switch {
	case hasKey && hasCert:
		return credErr("give either apns.authKeyP8 (token auth) or apns.certificateP12, not both")
	case hasKey:
		if _, err := a.authKey(); err != nil {
			return err
		}
		if len(a.KeyID) != 10 {
			return credErr("apns.keyId must be the 10-character key id of the .p8 key (got %d characters)", len(a.KeyID))
		}
		if len(a.TeamID) != 10 {
			return credErr("apns.teamId must be the 10-character Apple team id (got %d characters)", len(a.TeamID))
		}
		info.KeyID, info.TeamID = a.KeyID, a.TeamID
		return nil
	case hasCert:
		cert, err := a.certificate()
		if err != nil {
			return err
		}
		leaf := cert.Leaf
		if leaf == nil {
			if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
				return credErr("apns certificate: %v", err)
			}
		}
		info.Subject, info.NotAfter = leaf.Subject.String(), leaf.NotAfter
		if now.After(leaf.NotAfter) {
			return credErr("apns certificate %q expired on %s", leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		if now.Before(leaf.NotBefore) {
			return credErr("apns certificate %q is not valid before %s", leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))
		}
		return nil
	}
	return credErr("apns needs authKeyP8 with keyId and teamId, or certificateP12")
}

func (a *APNsCredential) authKey() (*ecdsa.PrivateKey, error) {
	k, err := token.AuthKeyFromBytes(a.AuthKeyP8)
	switch {
	case errors.Is(err, token.ErrAuthKeyNotPem):
		return nil, credErr("apns.authKeyP8 is not PEM (expected the .p8 file content, -----BEGIN PRIVATE KEY-----)")
	case errors.Is(err, token.ErrAuthKeyNotECDSA):
		return nil, credErr("apns.authKeyP8 is not an EC (ES256) key")
	case err != nil:
		return nil, credErr("apns.authKeyP8 is not a PKCS#8 private key: %v", err)
	}
	if k.Curve != elliptic.P256() {
		return nil, credErr("apns.authKeyP8 must be a P-256 key")
	}
	return k, nil
}

func (a *APNsCredential) certificate() (tls.Certificate, error) {
	cert, err := certificate.FromP12Bytes(a.CertificateP12, a.CertificatePassword)
	if err != nil {
		return tls.Certificate{}, credErr("apns.certificateP12 cannot be opened (wrong password or not a PKCS#12 file with 3DES/RC2 encryption): %v", err)
	}
	return cert, nil
}

// serviceAccount is the subset of a Google service-account JSON key chatgate uses.
type serviceAccount struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

func (f *FCMCredential) parse(info *CredentialInfo) (serviceAccount, error) {
	var sa serviceAccount
	if err := json.Unmarshal(f.ServiceAccountJSON, &sa); err != nil {
		return sa, credErr("fcm.serviceAccountJson is not JSON: %v", err)
	}
	if sa.Type != "service_account" {
		return sa, credErr("fcm.serviceAccountJson type is %q, want service_account", sa.Type)
	}
	if sa.ClientEmail == "" {
		return sa, credErr("fcm.serviceAccountJson has no client_email")
	}
	if f.ProjectID != "" {
		sa.ProjectID = f.ProjectID
	}
	if sa.ProjectID == "" {
		return sa, credErr("no project id: set fcm.projectId or project_id in the service account")
	}
	if sa.TokenURI == "" {
		sa.TokenURI = "https://oauth2.googleapis.com/token"
	}
	if u, err := url.Parse(sa.TokenURI); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return sa, credErr("fcm.serviceAccountJson token_uri %q is not an http(s) URL", sa.TokenURI)
	}
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return sa, credErr("fcm.serviceAccountJson private_key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		if _, err2 := x509.ParsePKCS1PrivateKey(block.Bytes); err2 != nil {
			return sa, credErr("fcm.serviceAccountJson private_key is not an RSA key: %v", err)
		}
	} else if _, ok := k.(*rsa.PrivateKey); !ok {
		return sa, credErr("fcm.serviceAccountJson private_key is %T, want an RSA key (RS256)", k)
	}
	if info != nil {
		info.ProjectID, info.ClientEmail, info.KeyID = sa.ProjectID, sa.ClientEmail, sa.PrivateKeyID
	}
	return sa, nil
}

// NormalizeVAPIDSubject returns the subject as the JWT "sub" must carry it: an https URL
// unchanged, otherwise exactly one "mailto:" prefix.
func NormalizeVAPIDSubject(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "https:") {
		return s
	}
	for strings.HasPrefix(strings.ToLower(s), "mailto:") {
		s = s[len("mailto:"):]
	}
	return "mailto:" + s
}

func (v *VAPIDCredential) validate(info *CredentialInfo) error {
	sub := NormalizeVAPIDSubject(v.Subject)
	if sub == "mailto:" {
		return credErr("webpush.subject is required (mailto:you@example.com or an https URL)")
	}
	if strings.HasSuffix(strings.ToLower(sub), "@localhost") {
		return credErr("webpush.subject %q: push services (Apple) reject @localhost subjects", sub)
	}
	priv, err := decodeB64(v.PrivateKey)
	if err != nil || len(priv) != 32 {
		return credErr("webpush.privateKey must be 32 bytes of base64url (raw P-256 scalar)")
	}
	pk, err := ecdh.P256().NewPrivateKey(priv)
	if err != nil {
		return credErr("webpush.privateKey is not a valid P-256 scalar")
	}
	pub, err := decodeB64(v.PublicKey)
	if err != nil || len(pub) != 65 {
		return credErr("webpush.publicKey must be 65 bytes of base64url (uncompressed P-256 point)")
	}
	if string(pk.PublicKey().Bytes()) != string(pub) {
		return credErr("webpush.publicKey does not belong to webpush.privateKey")
	}
	info.Subject, info.PublicKey = sub, base64.RawURLEncoding.EncodeToString(pub)
	return nil
}

// GenerateVAPID makes a fresh VAPID key pair for subject.
func GenerateVAPID(subject string) (VAPIDCredential, error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return VAPIDCredential{}, fmt.Errorf("push: generate VAPID key: %w", err)
	}
	return VAPIDCredential{
		PublicKey:  base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()),
		PrivateKey: base64.RawURLEncoding.EncodeToString(k.Bytes()),
		Subject:    NormalizeVAPIDSubject(subject),
	}, nil
}

func (h *HTTPCredential) validate(info *CredentialInfo) error {
	u, err := url.Parse(h.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return credErr("customhttp.url %q must be an absolute http(s) URL", h.URL)
	}
	info.URL = u.Scheme + "://" + u.Host + u.Path
	return nil
}

// decodeB64 accepts base64url or standard base64, padded or not (browsers and tools differ).
func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}
