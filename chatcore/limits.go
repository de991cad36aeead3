package chatcore

import (
	"fmt"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// exempt reports the events no transcript or rate limit refuses: a participant leaving
// (so a full chat can still be left and ended), joining, and the server's own notices. Each
// is bounded otherwise (a participant leaves once; notices follow timers), within
// SystemEventReserve.
func (t EventType) exempt() bool {
	return t == EventParticipantJoined || t == EventParticipantLeft || t == EventNotice
}

// admit checks an operation's events against the chat's transcript limits and each
// author's event rate, before anything is written: a refusal commits nothing. size is the
// events' encoded bytes. Tokens are taken only once every check passed. c.mu held.
func (co *Core) admit(c *chat, t *txn, size int64) error {
	counted := map[string]int{}
	for _, e := range t.events {
		if !e.Type.exempt() {
			counted[e.From.UserID]++
		}
	}
	if len(counted) == 0 {
		return nil
	}
	lim := co.limits
	if n := c.st.LastIndex + int64(len(t.events)); n > int64(lim.MaxEvents) {
		co.refused.transcriptFull.Add(1)
		return fmt.Errorf("chat %s: %d events (limit %d): %w", c.id, n, lim.MaxEvents, ErrTranscriptFull)
	}
	if b := c.st.TranscriptBytes + size; b > lim.MaxTranscriptBytes {
		co.refused.transcriptFull.Add(1)
		return fmt.Errorf("chat %s: transcript of %d bytes (limit %d): %w", c.id, b, lim.MaxTranscriptBytes, ErrTranscriptFull)
	}
	if c.limiters == nil {
		c.limiters = map[string]*rate.Limiter{}
	}
	for user, n := range counted {
		l := c.limiters[user]
		if l == nil {
			l = rate.NewLimiter(rate.Limit(lim.EventRate), lim.EventBurst)
			c.limiters[user] = l
		}
		// Every bucket is checked before any is drawn from: a refusal leaves them as they were.
		if l.TokensAt(t.now) < float64(n) {
			co.refused.rateLimited.Add(1)
			return fmt.Errorf("chat %s: user %.32q over %g events/s: %w", c.id, user, lim.EventRate, ErrRateLimited)
		}
	}
	for user, n := range counted {
		c.limiters[user].AllowN(t.now, n)
	}
	return nil
}

// Stats is a snapshot of the Core's memory and limit counters (for metrics).
type Stats struct {
	// ChatsInMemory is how many chats the Core holds in memory (live chats, and ended ones
	// not yet released).
	ChatsInMemory int
	// TranscriptFull, RateLimited and UserDataRefused count the operations refused by
	// each per-chat limit since New.
	TranscriptFull, RateLimited, UserDataRefused uint64
}

// refusals are the Core's limit counters.
type refusals struct {
	transcriptFull, rateLimited, userData atomic.Uint64
}

// Stats returns the Core's counters; it takes the Core's map lock only briefly.
func (co *Core) Stats() Stats {
	co.mu.RLock()
	n := len(co.chats)
	co.mu.RUnlock()
	return Stats{
		ChatsInMemory: n, TranscriptFull: co.refused.transcriptFull.Load(),
		RateLimited: co.refused.rateLimited.Load(), UserDataRefused: co.refused.userData.Load(),
	}
}
