package push

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
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

	"software.sslmate.com/src/go-pkcs12"
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
	// Revision is the store's revision of this value (0: not from a store). Not stored
	// with the value: the store sets it when it reads or writes. The Registry uses it to
	// ignore a value older than the one it has (the admin call applies its write at once,
	// so the KV watch may deliver an earlier write afterwards).
	Revision uint64 `json:"-"`
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
	Key CredentialKey `json:"key"`
	// Fingerprint is the SHA-256 (hex) of the credential's public half, named by
	// FingerprintOf, so it can be compared with what Apple, Google or openssl show and
	// reveals nothing secret: the certificate (DER) of a .p12, the public key (SPKI DER) of
	// a .p8 or service-account key, the raw VAPID public key, the URL of a custom receiver.
	// Empty when the material does not parse.
	Fingerprint   string    `json:"fingerprint"`
	FingerprintOf string    `json:"fingerprintOf,omitempty"`
	UpdatedAt     time.Time `json:"updatedAt"`
	// Kind-specific public facts.
	KeyID       string    `json:"keyId,omitempty"`
	TeamID      string    `json:"teamId,omitempty"`
	Topic       string    `json:"topic,omitempty"`
	Environment string    `json:"environment,omitempty"`
	Subject     string    `json:"subject,omitempty"` // certificate subject or VAPID subject
	NotAfter    time.Time `json:"notAfter,omitzero"` // end of a .p12 certificate's validity
	// ExpiryNote says why a credential has no NotAfter (a .p8 or service-account key
	// carries no expiry date).
	ExpiryNote string `json:"expiryNote,omitempty"`
	// Warning is set when the certificate has expired or expires within
	// ExpiryWarningWindow of the time of validation.
	Warning     string `json:"warning,omitempty"`
	ProjectID   string `json:"projectId,omitempty"`
	ClientEmail string `json:"clientEmail,omitempty"`
	PublicKey   string `json:"publicKey,omitempty"` // VAPID public key (the widget needs it)
	URL         string `json:"url,omitempty"`
}

// ExpiryWarningWindow is how long before a certificate's end CredentialInfo.Warning says
// so: long enough to get a new certificate from Apple and upload it.
const ExpiryWarningWindow = 30 * 24 * time.Hour

// Why some credentials have no expiry date (CredentialInfo.ExpiryNote).
const (
	expiryNoteP8      = "no expiry: a .p8 key is valid until it is revoked in the Apple Developer account"
	expiryNoteService = "no expiry date in the key file: a service-account key is valid until it is deleted or disabled in Google Cloud IAM (an organisation policy may set a key lifetime)"
	expiryNoteVAPID   = "no expiry: a VAPID key pair is valid until it is replaced (generate again to rotate)"
)

// expiryWarning describes a certificate that ends within ExpiryWarningWindow of now, or
// has ended; "" otherwise.
func expiryWarning(notAfter, now time.Time) string {
	date := notAfter.UTC().Format(time.RFC3339)
	left := notAfter.Sub(now)
	switch {
	case left < 0:
		return "the certificate expired on " + date
	case left < 24*time.Hour:
		return "the certificate expires in less than a day, on " + date
	case left <= ExpiryWarningWindow:
		return fmt.Sprintf("the certificate expires in %d days, on %s", int(left.Hours()/24), date)
	}
	return ""
}

// fingerprint is the hex SHA-256 of b.
func fingerprint(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// ErrCredential wraps every credential validation failure.
var ErrCredential = errors.New("push: invalid credential")

func credErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrCredential, fmt.Sprintf(format, a...))
}

// Validate parses the secret material and returns its public description. now is used to
// reject expired certificates and to set the expiry warning. Error messages say exactly
// what is wrong and never contain the secret. The description is filled as far as the
// material parsed, so an expired certificate still has its fingerprint and NotAfter.
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
	return info, err
}

// materialDigest identifies the whole material, secret parts included, so the Registry
// rebuilds a provider whenever anything changed (a new password, topic or Authorization)
// and keeps it otherwise. Internal only: it is a digest of secrets, so it is never shown
// (CredentialInfo.Fingerprint covers the public half).
func (c *Credential) materialDigest() string {
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
		k, err := a.authKey()
		if err != nil {
			return err
		}
		spki, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			return credErr("apns.authKeyP8 public key: %v", err)
		}
		info.Fingerprint, info.FingerprintOf, info.ExpiryNote = fingerprint(spki), "public key", expiryNoteP8
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
		info.Subject, info.NotAfter = leaf.Subject.String(), leaf.NotAfter
		info.Fingerprint, info.FingerprintOf = fingerprint(leaf.Raw), "certificate"
		info.Warning = expiryWarning(leaf.NotAfter, now)
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

// authKey parses the .p8: Apple issues a PEM "PRIVATE KEY" (PKCS#8) holding an EC P-256
// key. The errors name the usual mix-ups (a SEC1 "EC PRIVATE KEY", an encrypted key, an
// RSA key, a certificate).
func (a *APNsCredential) authKey() (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(a.AuthKeyP8)
	if block == nil {
		return nil, credErr("apns.authKeyP8 is not PEM (expected the .p8 file content, -----BEGIN PRIVATE KEY-----)")
	}
	switch block.Type {
	case "PRIVATE KEY":
	case "EC PRIVATE KEY":
		return nil, credErr("apns.authKeyP8 is a SEC1 key (BEGIN EC PRIVATE KEY), not the PKCS#8 .p8 Apple issues: convert it with openssl pkcs8 -topk8 -nocrypt")
	case "ENCRYPTED PRIVATE KEY":
		return nil, credErr("apns.authKeyP8 is encrypted; Apple's .p8 is not: upload the file as downloaded")
	default:
		return nil, credErr("apns.authKeyP8 is a PEM %q, not a PKCS#8 PRIVATE KEY (.p8)", block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, credErr("apns.authKeyP8 is not a PKCS#8 private key: %v", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, credErr("apns.authKeyP8 holds %s (PKCS#8), not an EC P-256 (ES256) key", keyType(k))
	}
	if ek.Curve != elliptic.P256() {
		return nil, credErr("apns.authKeyP8 is an EC key on %s; APNs needs P-256", ek.Curve.Params().Name)
	}
	return ek, nil
}

// keyType names a parsed private key's type for an error message, with its article.
func keyType(k any) string {
	switch k.(type) {
	case *rsa.PrivateKey:
		return "an RSA key"
	case *ecdsa.PrivateKey:
		return "an EC key"
	case ed25519.PrivateKey:
		return "an Ed25519 key"
	case *ecdh.PrivateKey:
		return "an X25519 key"
	}
	return fmt.Sprintf("a %T", k)
}

// certificate opens the .p12: legacy (3DES/RC2, openssl -legacy, what Keychain Access
// exports) and modern (AES-256 with PBKDF2, the OpenSSL 3 default) encryption alike. The
// certificate must come with its private key.
func (a *APNsCredential) certificate() (tls.Certificate, error) {
	key, leaf, chain, err := pkcs12.DecodeChain(a.CertificateP12, a.CertificatePassword)
	var notImpl pkcs12.NotImplementedError
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword), errors.Is(err, pkcs12.ErrDecryption):
		if a.CertificatePassword == "" {
			return tls.Certificate{}, credErr("apns.certificateP12 needs a password (apns.certificatePassword is empty)")
		}
		return tls.Certificate{}, credErr("apns.certificatePassword is wrong for this .p12 (the file's password check failed)")
	case errors.As(err, &notImpl):
		return tls.Certificate{}, credErr("apns.certificateP12 uses a format chatgate cannot read (%v)", err)
	case err != nil:
		return tls.Certificate{}, credErr("apns.certificateP12 is not a PKCS#12 (.p12) file with one certificate and its private key: %v", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return tls.Certificate{}, credErr("apns.certificateP12 holds a %T, not a signing key", key)
	}
	if pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(leaf.PublicKey) {
		return tls.Certificate{}, credErr("apns.certificateP12: the private key does not belong to the certificate %q", leaf.Subject.CommonName)
	}
	cert := tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
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
	if sa.PrivateKey == "" {
		return sa, credErr("fcm.serviceAccountJson has no private_key")
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
	var rk *rsa.PrivateKey
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		var err2 error
		if rk, err2 = x509.ParsePKCS1PrivateKey(block.Bytes); err2 != nil {
			return sa, credErr("fcm.serviceAccountJson private_key is not an RSA key: %v", err)
		}
	} else if rk, _ = k.(*rsa.PrivateKey); rk == nil {
		return sa, credErr("fcm.serviceAccountJson private_key is %s, want an RSA key (RS256)", keyType(k))
	}
	if info != nil {
		info.ProjectID, info.ClientEmail, info.KeyID = sa.ProjectID, sa.ClientEmail, sa.PrivateKeyID
		if spki, err := x509.MarshalPKIXPublicKey(&rk.PublicKey); err == nil {
			info.Fingerprint, info.FingerprintOf = fingerprint(spki), "public key"
		}
		info.ExpiryNote = expiryNoteService
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
	info.Fingerprint, info.FingerprintOf, info.ExpiryNote = fingerprint(pub), "VAPID public key", expiryNoteVAPID
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
	// Only the URL is public (the Authorization value is a secret and the query may hold
	// one too), so two receivers differing only there share a fingerprint.
	info.Fingerprint, info.FingerprintOf = fingerprint([]byte(info.URL)), "url"
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
