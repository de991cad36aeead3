package agentapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/go-chi/httprate"

	"github.com/chatgate/chatgate/web/agentapi/accounts"
	"github.com/chatgate/chatgate/web/cookieauth"
)

// Consoles a POST /session may log in to, and the roles each admits.
const (
	ConsoleAgent      = "agent"
	ConsoleSupervisor = "supervisor"
)

// ConsoleAdmits reports whether an account of role may use console: the agent console is
// for agents and supervisors, the supervisor board for supervisors; bots have none.
func ConsoleAdmits(console string, role accounts.Role) bool {
	switch console {
	case ConsoleAgent:
		return role == accounts.RoleAgent || role == accounts.RoleSupervisor
	case ConsoleSupervisor:
		return role == accounts.RoleSupervisor
	}
	return false
}

// sessionAnswer is what POST and GET /session answer: never the session token (it stays
// in the HttpOnly cookie), the CSRF token the page sends with every change instead.
type sessionAnswer struct {
	CSRFToken string           `json:"csrfToken"`
	Expires   any              `json:"expires"`
	Account   accounts.Account `json:"account"`
	Presence  any              `json:"presence,omitempty"`
}

// consoleSession mounts the cookie session of the browser consoles (docs/agent-api.md,
// "Console sessions"):
//
//	POST   /session  {id, password, console} → Set-Cookie chatgate_console; {csrfToken, expires, account}
//	GET    /session  the cookie's session → {csrfToken, expires, account, presence}
//	DELETE /session  log out (CSRF token required; the session revoked, the cookie cleared)
func (a *API) consoleSession(handle func(string, http.Handler), auth func(string, func(http.ResponseWriter, *http.Request, accounts.Principal)), byIP, byAccount *httprate.RateLimiter) {
	handle("POST /session", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body loginBody
		tok, exp, acct, ok := a.checkLogin(w, r, byIP, byAccount, &body)
		if !ok {
			return
		}
		if !ConsoleAdmits(body.Console, acct.Role) {
			// No session remains: the console refuses the account before the page gets one
			// (the presence is not touched, an agent's desktop elsewhere goes on).
			_ = a.cfg.Accounts.Logout(r.Context(), tok)
			msg := "not a supervisor"
			if body.Console != ConsoleSupervisor {
				msg = "this account has no " + body.Console + " console"
			}
			writeError(w, errorf(ErrForbidden, "%s", msg))
			return
		}
		cookieauth.Set(w, r, cookieauth.StaffCookie, tok, exp)
		writeJSON(w, http.StatusOK, sessionAnswer{CSRFToken: cookieauth.Token(tok), Expires: exp, Account: acct})
	}))
	auth("GET /session", func(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
		if !p.Session {
			writeError(w, errorf(ErrInvalid, "an API token has no console session"))
			return
		}
		writeJSON(w, http.StatusOK, sessionAnswer{CSRFToken: cookieauth.Token(callerToken(r)), Expires: p.Expires, Account: p.Account, Presence: a.presence(p.Account)})
	})
	auth("DELETE /session", a.logout)
}

// logout serves POST /logout and DELETE /session: a login session is revoked (an API
// token stays valid), the presence set to logged-out and a session cookie cleared.
func (a *API) logout(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
	if _, _, err := a.query(r.Context(), p, callerToken(r), Query{Action: QueryLogout}); err != nil {
		writeError(w, err)
		return
	}
	cookieauth.Clear(w, r, cookieauth.StaffCookie)
	w.WriteHeader(http.StatusNoContent)
}

// ConsoleAccount is the account of the request's session cookie, if it is valid (the
// console pages are served by web/console only to a session of their role).
func (a *API) ConsoleAccount(r *http.Request) (accounts.Account, bool) {
	tok := cookieauth.Value(r, cookieauth.StaffCookie)
	if tok == "" {
		return accounts.Account{}, false
	}
	p, err := a.authenticateCookie(r.Context(), tok)
	if err != nil {
		return accounts.Account{}, false
	}
	return p.Account, true
}

// errNotSession: a cookie that does not hold a session token.
var errNotSession = errors.New("agentapi: the cookie holds no session token")

// authenticateCookie resolves a cookie's value: login sessions only, never API tokens.
func (a *API) authenticateCookie(ctx context.Context, tok string) (accounts.Principal, error) {
	p, err := a.cfg.Accounts.Authenticate(ctx, tok)
	if err != nil {
		return p, err
	}
	if !p.Session {
		return accounts.Principal{}, errNotSession
	}
	return p, nil
}
