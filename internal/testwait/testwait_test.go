package testwait

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fatalRecorder is a testing.TB whose Fatalf records instead of stopping the goroutine.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
}

func TestEventuallyReturnsOnceTrue(t *testing.T) {
	var n atomic.Int32
	r := &fatalRecorder{TB: t}
	Eventually(r, 5*time.Second, func() error {
		if n.Add(1) < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if r.msg != "" || n.Load() != 3 {
		t.Fatalf("calls %d, failure %q", n.Load(), r.msg)
	}
}

func TestEventuallyFailsWithTheLastError(t *testing.T) {
	r := &fatalRecorder{TB: t}
	start := time.Now()
	i := 0
	Eventually(r, 30*time.Millisecond, func() error { i++; return fmt.Errorf("attempt %d", i) })
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("gave up after %s, before the timeout", d)
	}
	if !strings.Contains(r.msg, fmt.Sprintf("attempt %d", i)) || !strings.Contains(r.msg, "30ms") {
		t.Errorf("failure %q does not carry the last error (attempt %d)", r.msg, i)
	}
}

func TestUntilNamesTheCondition(t *testing.T) {
	r := &fatalRecorder{TB: t}
	Until(r, 10*time.Millisecond, "the moon", func() bool { return false })
	if !strings.Contains(r.msg, "the moon") {
		t.Errorf("failure %q", r.msg)
	}
}
