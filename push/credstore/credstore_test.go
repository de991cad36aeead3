package credstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/internal/testwait"
	"github.com/chatgate/chatgate/push"
	"github.com/chatgate/chatgate/push/credstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startNATS(t *testing.T) *natsserver.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := natsserver.Start(ctx, natsserver.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func secret(t *testing.T) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func vapid(t *testing.T, name string) push.Credential {
	v, err := push.GenerateVAPID("ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return push.Credential{Key: push.CredentialKey{Kind: push.KindWebPush, Name: name}, WebPush: &v, UpdatedAt: time.Now().UTC()}
}

func TestEncryptedRoundTripAndWatch(t *testing.T) {
	ctx := t.Context()
	nc := startNATS(t)
	key := secret(t)
	s, err := credstore.Open(ctx, nc, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := push.NewRegistry(push.RegistryOptions{})
	defer reg.Close()
	w, err := s.Watch(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	c := vapid(t, "default")
	if _, err := s.Put(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, c.Key)
	if err != nil || got.WebPush.PrivateKey != c.WebPush.PrivateKey {
		t.Fatalf("get: %+v %v", got, err)
	}
	// At rest the private key is not readable.
	kv, err := nc.KV(ctx, jetstreamCfg())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := kv.Get(ctx, c.Key.String())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw.Value(), []byte(c.WebPush.PrivateKey)) || bytes.Contains(raw.Value(), []byte("privateKey")) {
		t.Fatal("stored value contains plaintext")
	}
	// The watch installs it.
	testwait.Until(t, 10*time.Second, "watch apply", func() bool { _, err := reg.Resolve(push.Target{Kind: push.KindWebPush}); return err == nil })

	// Another store with the wrong key cannot read it.
	bad, _ := credstore.New(kv, secret(t), nil)
	if _, err := bad.Get(ctx, c.Key); !errors.Is(err, credstore.ErrDecrypt) {
		t.Fatalf("wrong key: %v", err)
	}
	if l, _ := bad.List(ctx); len(l) != 0 || bad.DecryptFailures() != 1 {
		t.Fatalf("wrong key list %d failures %d", len(l), bad.DecryptFailures())
	}

	// A second credential, list, then delete: the watch removes it.
	c2 := vapid(t, "other")
	if _, err := s.Put(ctx, c2); err != nil {
		t.Fatal(err)
	}
	if l, err := s.List(ctx); err != nil || len(l) != 2 {
		t.Fatalf("list %d %v", len(l), err)
	}
	if err := s.Delete(ctx, c.Key); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 10*time.Second, "watch remove", func() bool {
		_, err := reg.Resolve(push.Target{Kind: push.KindWebPush})
		return errors.Is(err, push.ErrNoProvider)
	})
	if err := s.Delete(ctx, c.Key); !errors.Is(err, credstore.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// A new watcher (another node, or a restart) loads what is stored.
	reg2 := push.NewRegistry(push.RegistryOptions{})
	defer reg2.Close()
	w2, err := s.Watch(ctx, reg2)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	if infos := reg2.Infos(); len(infos) != 1 || infos[0].Key.Name != "other" {
		t.Fatalf("initial load: %+v", infos)
	}
}

func TestKeyLength(t *testing.T) {
	if _, err := credstore.New(nil, make([]byte, 16), nil); err == nil {
		t.Fatal("16-byte key accepted")
	}
}
