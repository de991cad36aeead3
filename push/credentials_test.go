package push_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/push"
	"github.com/chatgate/chatgate/push/pushtest"
)

func TestNormalizeVAPIDSubject(t *testing.T) {
	for in, want := range map[string]string{
		"ops@example.com":                "mailto:ops@example.com",
		"mailto:ops@example.com":         "mailto:ops@example.com",
		"MAILTO:mailto:ops@example.com":  "mailto:ops@example.com",
		" https://chat.example.com/ ":    "https://chat.example.com/",
		"https://chat.example.com/about": "https://chat.example.com/about",
	} {
		if got := push.NormalizeVAPIDSubject(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestCredentialValidationSaysWhatIsWrong(t *testing.T) {
	apns, err := pushtest.StartAPNs("com.example.chat", 1)
	if err != nil {
		t.Fatal(err)
	}
	apns.Close()
	expired, err := os.ReadFile("testdata/apns-expired.p12")
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile("testdata/apns-client.p12")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := push.GenerateVAPID("ops@example.com")
	v2, _ := push.GenerateVAPID("ops@example.com")
	now := time.Now()
	cases := []struct {
		name string
		c    push.Credential
		want string
	}{
		{"bad name", push.Credential{Key: push.CredentialKey{Kind: push.KindHTTP, Name: "a b"}, HTTP: &push.HTTPCredential{URL: "https://x"}}, "credential name"},
		{"bad kind", push.Credential{Key: push.CredentialKey{Kind: "ios", Name: "a"}}, "not one of"},
		{"two bodies", push.Credential{Key: key(push.KindHTTP, false), HTTP: &push.HTTPCredential{URL: "https://x"}, WebPush: &v}, "exactly one"},
		{"p8 not pem", push.Credential{Key: key(push.KindAPNs, false), APNs: &push.APNsCredential{AuthKeyP8: []byte("xyz"), KeyID: "ABC123DEFG", TeamID: "TEAM123456", Topic: "t"}}, "not PEM"},
		{"short key id", push.Credential{Key: key(push.KindAPNs, false), APNs: &push.APNsCredential{AuthKeyP8: apns.KeyP8, KeyID: "ABC", TeamID: "TEAM123456", Topic: "t"}}, "keyId must be the 10-character"},
		{"no topic", push.Credential{Key: key(push.KindAPNs, false), APNs: &push.APNsCredential{AuthKeyP8: apns.KeyP8, KeyID: "ABC123DEFG", TeamID: "TEAM123456"}}, "topic"},
		{"expired cert", push.Credential{Key: key(push.KindAPNs, false), APNs: &push.APNsCredential{CertificateP12: expired, CertificatePassword: "secret", Topic: "t"}}, "expired on 2021-01-01"},
		{"wrong p12 password", push.Credential{Key: key(push.KindAPNs, false), APNs: &push.APNsCredential{CertificateP12: good, CertificatePassword: "nope", Topic: "t"}}, "certificatePassword is wrong for this .p12"},
		{"both auths", push.Credential{Key: key(push.KindAPNs, false), APNs: &push.APNsCredential{CertificateP12: good, AuthKeyP8: apns.KeyP8, Topic: "t"}}, "not both"},
		{"fcm not json", push.Credential{Key: key(push.KindFCM, false), FCM: &push.FCMCredential{ServiceAccountJSON: []byte("{")}}, "not JSON"},
		{"fcm wrong type", push.Credential{Key: key(push.KindFCM, false), FCM: &push.FCMCredential{ServiceAccountJSON: []byte(`{"type":"authorized_user"}`)}}, "want service_account"},
		{"vapid mismatch", push.Credential{Key: key(push.KindWebPush, false), WebPush: &push.VAPIDCredential{PublicKey: v2.PublicKey, PrivateKey: v.PrivateKey, Subject: "ops@example.com"}}, "does not belong"},
		{"vapid localhost", push.Credential{Key: key(push.KindWebPush, false), WebPush: &push.VAPIDCredential{PublicKey: v.PublicKey, PrivateKey: v.PrivateKey, Subject: "me@localhost"}}, "@localhost"},
		{"http url", push.Credential{Key: key(push.KindHTTP, false), HTTP: &push.HTTPCredential{URL: "/relative"}}, "absolute http(s) URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.c.Validate(now)
			if !errors.Is(err, push.ErrCredential) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want ErrCredential mentioning %q", err, c.want)
			}
			if c.c.APNs != nil && c.c.APNs.CertificatePassword != "" && strings.Contains(err.Error(), c.c.APNs.CertificatePassword) {
				t.Fatal("error reveals the password")
			}
		})
	}
}

func TestCredentialInfoHasNoSecrets(t *testing.T) {
	v, _ := push.GenerateVAPID("ops@example.com")
	c := push.Credential{Key: key(push.KindWebPush, false), WebPush: &v}
	info, err := c.Validate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if info.PublicKey != v.PublicKey || info.Subject != "mailto:ops@example.com" || info.FingerprintOf != "VAPID public key" || len(info.Fingerprint) != 64 {
		t.Fatalf("info %+v", info)
	}
	if strings.Contains(strings.Join([]string{info.Fingerprint, info.PublicKey, info.Subject}, " "), v.PrivateKey) {
		t.Fatal("info contains the private key")
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	f.Add("120")
	f.Add("Wed, 21 Oct 2026 07:28:00 GMT")
	f.Add("-1")
	f.Fuzz(func(t *testing.T, h string) {
		if d := push.ParseRetryAfterForTest(h, time.Now()); d < 0 {
			t.Fatalf("negative delay %v for %q", d, h)
		}
	})
}
