package cookieauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTokenIsBoundToTheSession(t *testing.T) {
	a, b := Token("cgs_one"), Token("cgs_two")
	if a == b || a != Token("cgs_one") || len(a) < 40 {
		t.Fatalf("tokens %q %q", a, b)
	}
	if strings.Contains(a, "cgs_one") || !ValidToken("cgs_one", a) || ValidToken("cgs_two", a) || ValidToken("cgs_one", "") || ValidToken("cgs_one", a[:len(a)-1]) {
		t.Fatal("ValidToken accepts what it must not, or refuses the session's token")
	}
}

func TestCheck(t *testing.T) {
	const s = "cgs_session"
	req := func(method string, h ...string) *http.Request {
		r := httptest.NewRequest(method, "http://chat.example/agent/v1/me/state", nil)
		for i := 0; i+1 < len(h); i += 2 {
			r.Header.Set(h[i], h[i+1])
		}
		return r
	}
	for _, c := range []struct {
		name string
		r    *http.Request
		want error
	}{
		{"GET needs no token", req("GET"), nil},
		{"HEAD needs no token", req("HEAD"), nil},
		{"PUT without", req("PUT"), ErrMissingToken},
		{"POST wrong", req("POST", Header, Token("cgs_other")), ErrWrongToken},
		{"DELETE right", req("DELETE", Header, Token(s)), nil},
		{"PATCH right, same-origin", req("PATCH", Header, Token(s), "Sec-Fetch-Site", "same-origin"), nil},
		{"right token, cross-site", req("POST", Header, Token(s), "Sec-Fetch-Site", "cross-site"), ErrCrossOrigin},
		{"right token, other Origin", req("POST", Header, Token(s), "Origin", "https://evil.example"), ErrCrossOrigin},
		{"right token, same Origin", req("POST", Header, Token(s), "Origin", "http://chat.example"), nil},
	} {
		if got := Check(c.r, s); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	for _, c := range []struct {
		h    http.Header
		want bool
	}{
		{http.Header{"Sec-Fetch-Site": {"same-origin"}}, true},
		{http.Header{"Sec-Fetch-Site": {"same-site"}, "Origin": {"http://chat.example"}}, false},
		{http.Header{"Origin": {"http://chat.example"}}, true},
		{http.Header{"Origin": {"http://CHAT.example"}}, true},
		{http.Header{"Origin": {"http://chat.example.evil"}}, false},
		{http.Header{"Origin": {"null"}}, false},
		{http.Header{}, false},
	} {
		if got := SameOrigin(c.h, "chat.example"); got != c.want {
			t.Errorf("%v: %v, want %v", c.h, got, c.want)
		}
	}
}

func TestCookieAttributes(t *testing.T) {
	for _, tls := range []bool{false, true} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "http://chat.example/", nil)
		if tls {
			r.Header.Set("X-Forwarded-Proto", "https")
		}
		Set(w, r, StaffCookie, "cgs_x", time.Now().Add(time.Hour))
		c := w.Result().Cookies()[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != tls || c.MaxAge < 3500 {
			t.Fatalf("tls %v: %+v", tls, c)
		}
		w = httptest.NewRecorder()
		Clear(w, r, StaffCookie)
		if c := w.Result().Cookies()[0]; c.MaxAge >= 0 || c.Value != "" {
			t.Fatalf("clear: %+v", c)
		}
	}
}

func FuzzSameOrigin(f *testing.F) {
	for _, s := range []string{"http://chat.example", "https://chat.example:8443", "null", "", "http://[::1]:80", "http://a@chat.example", "//chat.example", "http://chat.example/path?q"} {
		f.Add(s, "chat.example")
	}
	f.Fuzz(func(t *testing.T, origin, host string) {
		ok := SameOrigin(http.Header{"Origin": {origin}}, host)
		if ok && (host == "" || !strings.Contains(strings.ToLower(origin), strings.ToLower(host))) {
			t.Fatalf("origin %q accepted for host %q", origin, host)
		}
	})
}
