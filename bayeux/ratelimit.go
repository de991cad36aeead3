package bayeux

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiterKeys bounds the per-address handshake limiters kept in memory (~100 B each).
const maxLimiterKeys = 65536

// addrLimiter is a token bucket (golang.org/x/time/rate) per client address for handshakes:
// a cookie-less client gets a new browser id on every handshake, so the per-browser session
// cap alone does not stop one client from creating sessions without end.
//
// The key map is bounded: when it is full, buckets that are full again (an address idle
// long enough to have its whole burst back, indistinguishable from a new one) are forgotten,
// at most once a second; addresses that still find no room share one overflow bucket. Under a
// spread-out attack new addresses are then throttled together, never memory. mu is a leaf
// lock: nothing is called out under it.
type addrLimiter struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	m         map[string]*rate.Limiter
	overflow  *rate.Limiter
	lastSweep time.Time
}

func newAddrLimiter(perMinute, burst int) *addrLimiter {
	l := rate.Limit(float64(perMinute) / 60)
	return &addrLimiter{limit: l, burst: burst, m: map[string]*rate.Limiter{}, overflow: rate.NewLimiter(l, burst)}
}

// allow takes one token for key at now; when there is none it reports how long until there
// will be one.
func (l *addrLimiter) allow(key string, now time.Time) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[key]
	if lim == nil {
		if len(l.m) >= maxLimiterKeys && now.Sub(l.lastSweep) >= time.Second {
			l.lastSweep = now
			for k, v := range l.m {
				if v.TokensAt(now) >= float64(l.burst) {
					delete(l.m, k)
				}
			}
		}
		if len(l.m) < maxLimiterKeys {
			lim = rate.NewLimiter(l.limit, l.burst)
			l.m[key] = lim
		} else {
			lim = l.overflow
		}
	}
	if lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - lim.TokensAt(now)
	return false, time.Duration(missing / float64(l.limit) * float64(time.Second))
}

// addrKey is the rate-limit key of a remote address: the IP, and for IPv6 its /64 (one
// subscriber usually has a whole /64, so single addresses would be free to rotate).
func addrKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
