// Package testwait is the one "wait for a condition" helper of chatgate's tests. Tests never
// sleep for a fixed time standing in for a condition; they poll the condition with a
// deadline, and a failure says what was awaited and, for Eventually, why it was not yet true
// (the condition's last error).
//
// Polling starts at 1 ms and backs off to 20 ms, so a condition that becomes true quickly
// is seen quickly without spinning two shared CPU cores during a slow one.
package testwait

import (
	"errors"
	"testing"
	"time"
)

// Eventually polls cond until it returns nil; after timeout it fails t with cond's last
// error.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", timeout, err)
			return
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
}

// Until is Eventually for a condition without a reason: what names it in the failure.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	Eventually(t, timeout, func() error {
		if cond() {
			return nil
		}
		return errors.New(what)
	})
}
