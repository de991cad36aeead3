package bayeux

// The abuse limits' bookkeeping: what was refused and why (Stats.Refusals), the throttled
// warnings, and the subscription counts behind Config.MaxSubscriptions*. The limits
// themselves are applied where the request is handled (handle.go, origin.go, queue.go,
// ratelimit.go).

// refusal is an abuse limit that refused something; the names are metric label values.
type refusal int

const (
	refusedHandshakeRate   refusal = iota // per-address handshake rate
	refusedBrowserSessions                // live sessions of one browser id
	refusedSubscriptions                  // subscriptions per session, browser or server
	refusedOrigin                         // origin policy (Origin, Referer, Host)
	numRefusals
)

// RefusalReasons names the keys of Stats.Refusals, always present (at 0 when nothing was
// refused).
var RefusalReasons = [numRefusals]string{"handshake_rate", "browser_sessions", "subscriptions", "origin"}

// reserveSubs accounts n new subscriptions of sess against the caps (per session, per
// browser id — which is also per websocket, whose sessions share the socket's browser id —
// and per server); false refuses them (the caller counts the refusal after unlocking).
// Called with sess.mu held (lock order: session.mu before Server.mu).
func (s *Server) reserveSubs(sess *session, n int) bool {
	ok := s.cfg.MaxSubscriptionsPerSession < 0 || len(sess.subs)+n <= s.cfg.MaxSubscriptionsPerSession
	if ok {
		s.mu.Lock()
		b := s.browsers[sess.browser] // exists while the session lives
		ok = (s.cfg.MaxSubscriptionsPerBrowser < 0 || b.subs+n <= s.cfg.MaxSubscriptionsPerBrowser) &&
			(s.cfg.MaxSubscriptions < 0 || s.subCount+n <= s.cfg.MaxSubscriptions)
		if ok {
			b.subs += n
			s.subCount += n
		}
		s.mu.Unlock()
	}
	return ok
}

// releaseSubs forgets n subscriptions of sess. Called with sess.mu held.
func (s *Server) releaseSubs(sess *session, n int) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	if b := s.browsers[sess.browser]; b != nil {
		b.subs -= n
	}
	s.subCount -= n
	s.mu.Unlock()
}

func (s *Server) subscriptionCount() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return int64(s.subCount)
}

func (s *Server) refusals() map[string]uint64 {
	m := make(map[string]uint64, numRefusals)
	for i, name := range RefusalReasons {
		m[name] = s.stats.refused[i].Load()
	}
	return m
}

// dropped counts n messages dropped from a full queue and logs it, at most once every 10 s.
func (s *Server) dropped(n int, args ...any) {
	total := s.stats.drops.Add(uint64(n))
	s.dropLog.Do(func() {
		s.log.Warn("bayeux queue full: dropped oldest messages", append(args, "dropped", n, "dropped_total", total,
			"max", s.cfg.MaxQueue, "max_bytes", s.cfg.MaxQueueBytes, "queued_bytes", s.bounds.total.Load(), "max_total_bytes", s.cfg.MaxTotalQueueBytes)...)
	})
}

// refuse counts a refusal by an abuse limit and logs it, at most once per reason every 10 s
// (with the count so far), so that an attack cannot flood the log.
func (s *Server) refuse(why refusal, msg string, args ...any) {
	n := s.stats.refused[why].Add(1)
	s.refusalLog[why].Do(func() {
		s.log.Warn(msg, append(args, "refused_total", n)...)
	})
}
