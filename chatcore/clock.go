package chatcore

import (
	"sync"
	"time"
)

// Clock is where chatcore gets time from. Timers are armed for an absolute instant so that a
// manual clock moved between reading Now and arming a timer cannot make it fire late.
type Clock interface {
	Now() time.Time
	// Timer fires once the clock reaches at (at once if it already has).
	Timer(at time.Time) Timer
}

// Timer is a one-shot timer of a Clock.
type Timer interface {
	C() <-chan time.Time
	// Stop releases the timer; it may still have fired.
	Stop()
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Timer arms a time.Timer for at.
func (RealClock) Timer(at time.Time) Timer { return realTimer{time.NewTimer(time.Until(at))} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop()               { r.t.Stop() }

// ManualClock is a Clock for tests: time moves only when Advance or Set is called, and
// timers due by then fire (in deadline order) before Advance returns.
type ManualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*manualTimer]struct{}
}

// NewManualClock starts a manual clock at start.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start, timers: map[*manualTimer]struct{}{}}
}

// Now returns the clock's current time.
func (m *ManualClock) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// Timer arms a timer for at.
func (m *ManualClock) Timer(at time.Time) Timer {
	t := &manualTimer{m: m, at: at, c: make(chan time.Time, 1)}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !at.After(m.now) {
		t.c <- m.now
		return t
	}
	m.timers[t] = struct{}{}
	return t
}

// Advance moves the clock forward by d and fires the timers that fell due.
func (m *ManualClock) Advance(d time.Duration) { m.Set(m.Now().Add(d)) }

// Set moves the clock to t (never backwards) and fires the timers that fell due.
func (m *ManualClock) Set(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.After(m.now) {
		m.now = t
	}
	for mt := range m.timers {
		if !mt.at.After(m.now) {
			delete(m.timers, mt)
			mt.c <- m.now
		}
	}
}

// Pending is the number of armed, unfired timers.
func (m *ManualClock) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.timers)
}

type manualTimer struct {
	m  *ManualClock
	at time.Time
	c  chan time.Time
}

func (t *manualTimer) C() <-chan time.Time { return t.c }
func (t *manualTimer) Stop() {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	delete(t.m.timers, t)
}
