//go:build unix

package natsserver

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/internal/testwait"
)

const fdChildEnv = "NATSSERVER_TEST_FD_CHILD"

// TestStoreRecoversAfterWriteError reproduces the failure of issue 7 item 2: the process
// runs out of file descriptors, the embedded JetStream file store hits "too many open
// files" and from then on refuses every write. It runs in a child process (the test binary
// itself) whose descriptor limit is lowered, so that exhausting it cannot disturb other
// tests. The child checks that Ready reports the failure, and that once descriptors are
// free again the store restarts by itself: Ready passes, writes succeed, earlier data is
// still there, and a KV watcher opened before the failure sees the new write.
func TestStoreRecoversAfterWriteError(t *testing.T) {
	if os.Getenv(fdChildEnv) == "1" {
		storeRecoversChild(t)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStoreRecoversAfterWriteError$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), fdChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestStoreRecoversAfterWriteError") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, want := range []string{criticalWriteError, "restarted after a store write error"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child log lacks %q", want)
		}
	}
}

func storeRecoversChild(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = 256
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	// The default sync interval (1 s): the file store reopens its state file on every sync,
	// which is where the exhaustion hits. (A much shorter interval makes nats-server's sync
	// timer race with the recovery of a stream at start, which -race reports.)
	o := Options{DataDir: dir, Logger: testLogger(t)}

	// A first run leaves the streams' state files (index.db) on disk, as any server that
	// ran before has; the file store reopens them on every sync.
	c := startT(t, o)
	kv, err := c.KV(ctx, jetstream.KeyValueConfig{Bucket: "T"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "before", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}

	c = startT(t, o)
	defer func() {
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	if err := c.Ready(ctx); err != nil {
		t.Fatalf("Ready before: %v", err)
	}
	kv, err = c.KV(ctx, jetstream.KeyValueConfig{Bucket: "T"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := kv.Watch(ctx, "after")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop() }()
	if e := <-w.Updates(); e != nil {
		t.Fatalf("watch: unexpected initial %v", e)
	}

	// Exhaust the descriptors, as 20,000 slow HTTP bodies did.
	var held []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatalf("open: %v", err)
			}
			break
		}
		held = append(held, f)
	}
	release := func() {
		for _, f := range held {
			_ = f.Close()
		}
		held = nil
	}
	defer release()
	t.Logf("holding %d descriptors", len(held))

	testwait.Until(t, 10*time.Second, "Ready reports the write failure", func() bool {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return errors.Is(c.Ready(rctx), ErrWriteFailed)
	})
	release()

	testwait.Until(t, 30*time.Second, "Ready after the restart", func() bool {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return c.Ready(rctx) == nil
	})
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := kv.Put(pctx, "after", []byte("2")); err != nil {
		t.Fatalf("put after recovery: %v", err)
	}
	if e, err := kv.Get(pctx, "before"); err != nil || string(e.Value()) != "1" {
		t.Fatalf("data from before the failure: %v %v", e, err)
	}
	select {
	case e := <-w.Updates():
		if e == nil || e.Key() != "after" || string(e.Value()) != "2" {
			t.Fatalf("watcher got %v", e)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("watcher opened before the failure did not see the write after it")
	}
}

// testLogger writes the server's log to the test's output (so that the parent test can look
// for the lines the child must have logged).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
