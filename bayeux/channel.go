package bayeux

import "strings"

// Channel kinds.
const (
	metaPrefix    = "/meta/"
	servicePrefix = "/service/"
)

func isMeta(ch string) bool    { return strings.HasPrefix(ch, metaPrefix) || ch == "/meta" }
func isService(ch string) bool { return strings.HasPrefix(ch, servicePrefix) || ch == "/service" }

// maxChannelLen bounds channel names (they become map keys).
const maxChannelLen = 512

// validChannel checks the Bayeux channel grammar: "/" followed by non-empty segments of
// [A-Za-z0-9-_!~()$@.:+=,%]; when wild is true the last segment may be * or **.
func validChannel(ch string, wild bool) bool {
	if len(ch) < 2 || len(ch) > maxChannelLen || ch[0] != '/' {
		return false
	}
	segs := strings.Split(ch[1:], "/")
	for i, s := range segs {
		if s == "" {
			return false
		}
		if s == "*" || s == "**" {
			if !wild || i != len(segs)-1 {
				return false
			}
			continue
		}
		for j := 0; j < len(s); j++ {
			if !segmentByte(s[j]) {
				return false
			}
		}
	}
	return true
}

func segmentByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '!', '~', '(', ')', '$', '@', '.', ':', '+', '=', ',', '%':
		return true
	}
	return false
}

// Match reports whether channel matches pattern: exact, /a/* (exactly one more segment) or
// /a/** (one or more more segments).
func Match(pattern, channel string) bool {
	switch {
	case strings.HasSuffix(pattern, "/**"):
		prefix := pattern[:len(pattern)-2] // keeps the trailing slash
		return len(channel) > len(prefix) && strings.HasPrefix(channel, prefix)
	case strings.HasSuffix(pattern, "/*"):
		prefix := pattern[:len(pattern)-1]
		if len(channel) <= len(prefix) || !strings.HasPrefix(channel, prefix) {
			return false
		}
		return !strings.Contains(channel[len(prefix):], "/")
	default:
		return pattern == channel
	}
}

// matchAny reports whether channel matches one of the patterns.
func matchAny(patterns []string, channel string) bool {
	for _, p := range patterns {
		if Match(p, channel) {
			return true
		}
	}
	return false
}

// patternsFor lists, for a concrete channel, every subscription key that matches it: the
// channel itself, its parent's /*, and /** at every ancestor (CometD's delivery walk).
// /a/b/c → /a/b/c, /a/b/*, /a/b/**, /a/**, /**.
func patternsFor(ch string, out []string) []string {
	out = append(out, ch)
	i := strings.LastIndexByte(ch, '/')
	if i < 0 {
		return out
	}
	parent := ch[:i]
	out = append(out, parent+"/*")
	for {
		out = append(out, parent+"/**")
		if parent == "" {
			return out
		}
		j := strings.LastIndexByte(parent, '/')
		if j < 0 {
			return out
		}
		parent = parent[:j]
	}
}
