package push

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func TestOneAPNsTokenPerKey(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	p8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	r := NewRegistry(RegistryOptions{})
	defer r.Close()
	for _, c := range []Credential{
		{Key: CredentialKey{Kind: KindAPNs, Name: "default"}, APNs: &APNsCredential{AuthKeyP8: p8, KeyID: "ABC123DEFG", TeamID: "TEAM123456", Topic: "com.example.a"}},
		{Key: CredentialKey{Kind: KindAPNs, Name: "default", Debug: true}, APNs: &APNsCredential{AuthKeyP8: p8, KeyID: "ABC123DEFG", TeamID: "TEAM123456", Topic: "com.example.a"}},
		{Key: CredentialKey{Kind: KindAPNs, Name: "other"}, APNs: &APNsCredential{AuthKeyP8: p8, KeyID: "ABC123DEFG", TeamID: "TEAM123456", Topic: "com.example.b"}},
	} {
		if _, err := r.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.tokens) != 1 {
		t.Fatalf("%d tokens for one key", len(r.tokens))
	}
	var bearers []string
	for _, name := range []string{"default", "other"} {
		p, err := r.Resolve(Target{Kind: KindAPNs, Provider: name})
		if err != nil {
			t.Fatal(err)
		}
		bearers = append(bearers, p.(*apnsProvider).client.Token.GenerateIfExpired())
	}
	if bearers[0] == "" || bearers[0] != bearers[1] {
		t.Fatal("credentials of one key sign different tokens")
	}
}
