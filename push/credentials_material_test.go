package push_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/chatgate/chatgate/push"
)

// The credential material of these tests is made here, the way Apple, Google and openssl
// make it: a self-signed certificate in a .p12 (legacy 3DES/RC2 and modern AES encryption),
// PKCS#8 .p8 keys, service-account JSON with a fresh RSA key.

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// selfSigned makes an RSA key and a certificate valid from notBefore to notAfter.
func selfSigned(t *testing.T, cn string, notBefore, notAfter time.Time) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return k, c
}

func p12(t *testing.T, enc *pkcs12.Encoder, key any, cert *x509.Certificate, password string) []byte {
	t.Helper()
	b, err := enc.Encode(key, cert, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pemOf(t *testing.T, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(t, "PRIVATE KEY", der)
}

func spki(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func apnsCert(b []byte, password string) *push.Credential {
	return &push.Credential{Key: key(push.KindAPNs, false), APNs: &push.APNsCredential{CertificateP12: b, CertificatePassword: password, Topic: "com.example.chat"}}
}

func TestP12FingerprintExpiryAndWarnings(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, enc := range []struct {
		name string
		e    *pkcs12.Encoder
	}{{"legacy 3DES", pkcs12.LegacyDES}, {"legacy RC2", pkcs12.LegacyRC2}, {"modern AES", pkcs12.Modern2023}} {
		t.Run(enc.name, func(t *testing.T) {
			k, cert := selfSigned(t, "Apple Push Services: com.example.chat", now.Add(-time.Hour), now.Add(365*24*time.Hour))
			info, err := apnsCert(p12(t, enc.e, k, cert, "s3cret"), "s3cret").Validate(now)
			if err != nil {
				t.Fatal(err)
			}
			if info.Fingerprint != sha256hex(cert.Raw) || info.FingerprintOf != "certificate" {
				t.Fatalf("fingerprint %q of %q, want the SHA-256 of the certificate %q", info.Fingerprint, info.FingerprintOf, sha256hex(cert.Raw))
			}
			if !info.NotAfter.Equal(cert.NotAfter) || info.Warning != "" || info.ExpiryNote != "" {
				t.Fatalf("expiry %+v", info)
			}
		})
	}

	cases := []struct {
		name     string
		notAfter time.Time
		warning  string // "" none
		err      string // "" valid
	}{
		{"31 days left", now.Add(31 * 24 * time.Hour), "", ""},
		{"29 days left", now.Add(29*24*time.Hour + time.Hour), "expires in 29 days, on 2026-12-31T13:00:00Z", ""},
		{"hours left", now.Add(3 * time.Hour), "expires in less than a day", ""},
		{"expired", now.Add(-24 * time.Hour), "expired on 2026-12-01T12:00:00Z", "expired on 2026-12-01T12:00:00Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, cert := selfSigned(t, "push cert", now.Add(-400*24*time.Hour), c.notAfter)
			info, err := apnsCert(p12(t, pkcs12.Modern2023, k, cert, "pw"), "pw").Validate(now)
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("err %v, want %q", err, c.err)
			}
			if c.warning == "" && info.Warning != "" || !strings.Contains(info.Warning, c.warning) {
				t.Fatalf("warning %q, want %q", info.Warning, c.warning)
			}
			// Even a refused certificate is identified: the list shows which one expired.
			if info.Fingerprint != sha256hex(cert.Raw) || !info.NotAfter.Equal(c.notAfter) {
				t.Fatalf("info %+v", info)
			}
		})
	}
}

func TestP12ErrorsNameTheProblem(t *testing.T) {
	now := time.Now()
	k, cert := selfSigned(t, "push cert", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	other, _ := selfSigned(t, "other", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	good := p12(t, pkcs12.Modern2023, k, cert, "right-password")
	legacy := p12(t, pkcs12.LegacyDES, k, cert, "right-password")
	for _, c := range []struct {
		name string
		cred *push.Credential
		want string
	}{
		{"wrong password", apnsCert(good, "wrong-password"), "apns.certificatePassword is wrong for this .p12"},
		{"wrong password, legacy file", apnsCert(legacy, "wrong-password"), "apns.certificatePassword is wrong for this .p12"},
		{"no password", apnsCert(good, ""), "needs a password"},
		{"not a p12", apnsCert([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n"), "some-password"), "not a PKCS#12 (.p12) file"},
		{"key of another certificate", apnsCert(p12(t, pkcs12.Modern2023, other, cert, "pw"), "pw"), "private key does not belong to the certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.cred.Validate(now)
			if !errors.Is(err, push.ErrCredential) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want ErrCredential mentioning %q", err, c.want)
			}
			if pw := c.cred.APNs.CertificatePassword; pw != "" && strings.Contains(err.Error(), pw) {
				t.Fatal("the error reveals the password")
			}
		})
	}
}

func apnsKey(p8 []byte) *push.Credential {
	return &push.Credential{Key: key(push.KindAPNs, false), APNs: &push.APNsCredential{AuthKeyP8: p8, KeyID: "ABC123DEFG", TeamID: "TEAM123456", Topic: "com.example.chat"}}
}

func TestP8FingerprintAndErrors(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	info, err := apnsKey(pkcs8(t, ec)).Validate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if info.Fingerprint != sha256hex(spki(t, &ec.PublicKey)) || info.FingerprintOf != "public key" {
		t.Fatalf("fingerprint %q of %q", info.Fingerprint, info.FingerprintOf)
	}
	if !info.NotAfter.IsZero() || !strings.Contains(info.ExpiryNote, "no expiry") || info.Warning != "" {
		t.Fatalf("expiry %+v", info)
	}

	sec1, _ := x509.MarshalECPrivateKey(ec)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, cert := selfSigned(t, "x", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	for _, c := range []struct {
		name string
		p8   []byte
		want string
	}{
		{"not PEM", []byte("MIGHAgEAMBMGByqGSM49AgEGCCqGSM49"), "is not PEM"},
		{"SEC1", pemOf(t, "EC PRIVATE KEY", sec1), "SEC1 key (BEGIN EC PRIVATE KEY), not the PKCS#8 .p8"},
		{"RSA", pkcs8(t, rk), "holds an RSA key (PKCS#8), not an EC P-256"},
		{"Ed25519", pkcs8(t, edk), "holds an Ed25519 key (PKCS#8)"},
		{"P-384", pkcs8(t, p384), "P-384; APNs needs P-256"},
		{"a certificate", pemOf(t, "CERTIFICATE", cert.Raw), `PEM "CERTIFICATE", not a PKCS#8 PRIVATE KEY`},
		{"damaged", pemOf(t, "PRIVATE KEY", []byte("garbage")), "not a PKCS#8 private key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := apnsKey(c.p8).Validate(time.Now())
			if !errors.Is(err, push.ErrCredential) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want ErrCredential mentioning %q", err, c.want)
			}
		})
	}
}

func serviceAccount(t *testing.T, fields map[string]any) *push.Credential {
	t.Helper()
	b, _ := json.Marshal(fields)
	return &push.Credential{Key: key(push.KindFCM, false), FCM: &push.FCMCredential{ServiceAccountJSON: b}}
}

func TestServiceAccountFingerprintAndErrors(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	full := func() map[string]any {
		return map[string]any{"type": "service_account", "project_id": "proj-1", "private_key_id": "abc123",
			"private_key": string(pkcs8(t, rk)), "client_email": "push@proj-1.iam.gserviceaccount.com",
			"token_uri": "https://oauth2.googleapis.com/token"}
	}
	info, err := serviceAccount(t, full()).Validate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if info.Fingerprint != sha256hex(spki(t, &rk.PublicKey)) || info.FingerprintOf != "public key" || info.KeyID != "abc123" {
		t.Fatalf("info %+v", info)
	}
	if !info.NotAfter.IsZero() || !strings.Contains(info.ExpiryNote, "no expiry date") {
		t.Fatalf("expiry %+v", info)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, c := range []struct {
		name   string
		change func(m map[string]any)
		want   string
	}{
		{"no client_email", func(m map[string]any) { delete(m, "client_email") }, "has no client_email"},
		{"no private_key", func(m map[string]any) { delete(m, "private_key") }, "has no private_key"},
		{"private_key not PEM", func(m map[string]any) { m["private_key"] = "MIIEv..." }, "private_key is not PEM"},
		{"EC private_key", func(m map[string]any) { m["private_key"] = string(pkcs8(t, ec)) }, "private_key is an EC key, want an RSA key"},
		{"no project", func(m map[string]any) { delete(m, "project_id") }, "no project id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := full()
			c.change(m)
			_, err := serviceAccount(t, m).Validate(time.Now())
			if !errors.Is(err, push.ErrCredential) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want ErrCredential mentioning %q", err, c.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatal("the error shows the key")
			}
		})
	}
}

func TestVAPIDFingerprintIsOfThePublicKey(t *testing.T) {
	v, _ := push.GenerateVAPID("ops@example.com")
	info, err := (&push.Credential{Key: key(push.KindWebPush, false), WebPush: &v}).Validate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(v.PublicKey)
	if info.Fingerprint != sha256hex(raw) || !strings.Contains(info.ExpiryNote, "no expiry") {
		t.Fatalf("info %+v", info)
	}
}

// The admin call applies its write at once and the KV watch delivers every write later:
// an earlier write arriving after a later one must not put the old key back.
func TestRegistryIgnoresAnOlderRevision(t *testing.T) {
	r := push.NewRegistry(push.RegistryOptions{})
	defer r.Close()
	v1, _ := push.GenerateVAPID("ops@example.com")
	v2, _ := push.GenerateVAPID("ops@example.com")
	k := key(push.KindWebPush, false)
	served := func() string {
		for _, i := range r.Infos() {
			if i.Key == k {
				return i.PublicKey
			}
		}
		return ""
	}
	if _, err := r.Apply(push.Credential{Key: k, WebPush: &v2, Revision: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Apply(push.Credential{Key: k, WebPush: &v1, Revision: 4}); err != nil {
		t.Fatal(err)
	}
	if served() != v2.PublicKey {
		t.Fatal("an older revision replaced the newer key")
	}
	// The watch's copy of revision 5 changes nothing; revision 6 (a rotation back) applies.
	if _, err := r.Apply(push.Credential{Key: k, WebPush: &v2, Revision: 5}); err != nil || served() != v2.PublicKey {
		t.Fatalf("same revision: %v", err)
	}
	if _, err := r.Apply(push.Credential{Key: k, WebPush: &v1, Revision: 6}); err != nil || served() != v1.PublicKey {
		t.Fatalf("newer revision not applied: %v", err)
	}
}
