package agentapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/httprate"

	"github.com/chatgate/chatgate/web"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
	"github.com/chatgate/chatgate/web/apijson"
	"github.com/chatgate/chatgate/web/apiroute"
	"github.com/chatgate/chatgate/web/cookieauth"
	"github.com/chatgate/chatgate/web/idempotency"
)

// Prefix is where cmd/chatgate mounts the REST API.
const Prefix = "/agent/v1"

type ctxKey struct{}

// principal returns the caller put in the context by requireToken.
func principal(r *http.Request) accounts.Principal {
	p, _ := r.Context().Value(ctxKey{}).(accounts.Principal)
	return p
}

// bearer extracts a bearer token.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// Handler returns the REST API, relative to where it is mounted (Prefix).
func (a *API) Handler() http.Handler {
	// 404 and 405 (with Allow) come from the router, in the apijson shape.
	rt := apiroute.New()
	rt.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			next.ServeHTTP(w, r)
		})
	})
	// handle registers a "METHOD /path" pattern with the body bound of its route.
	handle := func(pattern string, h http.Handler) {
		method, path, _ := strings.Cut(pattern, " ")
		limit := a.bodyLimit(pattern)
		rt.Method(method, path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			h.ServeHTTP(w, r)
		}))
	}
	// Per address ten times the per-account limit: several agents share an office's address.
	byIP := httprate.NewRateLimiter(10*a.cfg.LoginPerMinute, time.Minute)
	byAccount := httprate.NewRateLimiter(a.cfg.LoginPerMinute, time.Minute)
	handle("POST /login", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.login(w, r, byIP, byAccount) }))
	handle("GET /openapi.json", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	}))
	auth := func(pattern string, f func(w http.ResponseWriter, r *http.Request, p accounts.Principal)) {
		handle(pattern, a.requireToken(func(w http.ResponseWriter, r *http.Request) { f(w, r, principal(r)) }))
	}
	// The reads and logout: the same queries as the CometD service channel (queries.go).
	query := func(pattern, name string, req func(r *http.Request) (Query, error), write func(w http.ResponseWriter, res map[string]any)) {
		auth(pattern, func(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
			q := Query{Action: name, ChatID: r.PathValue("chatId"), Queue: r.PathValue("queue")}
			if req != nil {
				var err error
				if q, err = req(r); err != nil {
					writeError(w, err)
					return
				}
				q.Action = name
			}
			res, _, err := a.query(r.Context(), p, callerToken(r), q)
			if err != nil {
				writeError(w, err)
				return
			}
			write(w, res)
		})
	}
	asJSON := func(w http.ResponseWriter, res map[string]any) { writeJSON(w, http.StatusOK, res) }
	auth("POST /logout", a.logout) // the logout query, and a session cookie cleared
	a.consoleSession(handle, auth, byIP, byAccount)
	query("GET /me", QueryMe, nil, asJSON)
	auth("PUT /me/state", func(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
		var act Action
		if !a.decode(w, r, &act) {
			return
		}
		act.Action = ActState
		a.answer(w, r, p, act)
	})
	query("GET /chats", QueryChats, nil, asJSON)
	query("GET /offers", QueryOffers, nil, asJSON)
	query("GET /workbin", QueryWorkbin, nil, asJSON)
	query("GET /chats/{chatId}", QueryChat, nil, func(w http.ResponseWriter, res map[string]any) { writeJSON(w, http.StatusOK, res["chat"]) })
	query("GET /chats/{chatId}/transcript", QueryTranscript, transcriptQuery, asJSON)
	query("GET /chats/{chatId}/history", QueryHistory, nil, asJSON)
	query("GET /chats/{chatId}/history/{earlierId}/transcript", QueryHistoryTranscript, transcriptQuery, asJSON)
	query("GET /standard-responses", QueryStandardResponses, nil, asJSON)
	action := func(w http.ResponseWriter, r *http.Request) {
		var act Action
		if !a.decode(w, r, &act) {
			return
		}
		act.Action, act.ChatID = r.PathValue("action"), r.PathValue("chatId")
		a.answer(w, r, principal(r), act)
	}
	if a.cfg.Idempotency != nil {
		// A desktop that lost an answer sends the action again with the same key and gets
		// the first answer; the key is the caller's own (scope: the account).
		action = idempotency.New(idempotency.Config{
			KV: a.cfg.Idempotency, Namespace: "agent", Logger: a.log,
			Scope: func(r *http.Request) string { return principal(r).Account.ID },
		}).Wrap(action)
	}
	auth("POST /chats/{chatId}/{action}", func(w http.ResponseWriter, r *http.Request, _ accounts.Principal) { action(w, r) })
	auth(uploadPattern, a.upload)
	auth(limitsPattern, a.fileLimits)
	auth(downloadPattern, a.download)
	query("GET /supervisor/agents", QuerySupervisorAgents, nil, asJSON)
	query("GET /supervisor/queues", QuerySupervisorQueues, nil, asJSON)
	query("GET /supervisor/queues/{queue}", QuerySupervisorQueue, nil, asJSON)
	query("GET /supervisor/chats", QuerySupervisorChats, nil, asJSON)
	return rt
}

// transcriptQuery reads a transcript request: the chat, an earlier chat of its contact
// history (when the route has one) and the "from" index (default 1).
func transcriptQuery(r *http.Request) (Query, error) {
	q := Query{ChatID: r.PathValue("chatId"), EarlierID: r.PathValue("earlierId"), From: 1}
	if s := r.URL.Query().Get("from"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return q, errorf(ErrInvalid, "from must be a positive index")
		}
		q.From = n
	}
	return q, nil
}

// requireToken authenticates the caller: a bearer token (desktops, bots: no CSRF token
// needed, nothing ambient), else the console's session cookie, whose state-changing requests
// must carry the session's CSRF token (cookieauth.Check; 403 code "csrf" without it, before
// anything is done). 401 without a valid credential.
func (a *API) requireToken(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, fromCookie := bearer(r), false
		if tok == "" {
			tok, fromCookie = cookieauth.Value(r, cookieauth.StaffCookie), true
		}
		if tok == "" {
			writeError(w, errorf(ErrUnauthorized, "no bearer token or session cookie"))
			return
		}
		if fromCookie && !strings.HasPrefix(tok, accounts.SessionTokenPrefix) {
			writeError(w, errorf(ErrUnauthorized, "session cookie not accepted")) // API tokens never ride in a cookie
			return
		}
		p, err := a.cfg.Accounts.Authenticate(r.Context(), tok)
		if err != nil {
			if errors.Is(err, accounts.ErrUnavailable) {
				writeError(w, errorf(ErrUnavailable, "accounts"))
				return
			}
			if fromCookie {
				cookieauth.Clear(w, r, cookieauth.StaffCookie)
			}
			writeError(w, errorf(ErrUnauthorized, "token not accepted"))
			return
		}
		if fromCookie {
			if err := cookieauth.Check(r, tok); err != nil {
				a.log.Info("agent API request refused: CSRF", "account", p.Account.ID, "reason", err.Error(), "remote", r.RemoteAddr)
				writeJSON(w, http.StatusForbidden, errorBody{Code: CodeCSRF, Error: "refused: " + err.Error()})
				return
			}
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, p)
		ctx = context.WithValue(ctx, tokenKey{}, tok)
		next(w, r.WithContext(ctx))
	})
}

// CodeCSRF is the error code of a cookie-authenticated request refused for its CSRF token
// or its origin (HTTP 403).
const CodeCSRF = apijson.CodeCSRF

type tokenKey struct{}

// callerToken is the token requireToken authenticated (bearer or cookie).
func callerToken(r *http.Request) string {
	t, _ := r.Context().Value(tokenKey{}).(string)
	return t
}

type loginBody struct {
	ID       string `json:"id"`
	Password string `json:"password"`
	// Console is the console a POST /session logs in to ("agent" or "supervisor"); POST
	// /login ignores it.
	Console string `json:"console,omitempty"`
}

// login checks id and password and returns a session token.
func (a *API) login(w http.ResponseWriter, r *http.Request, byIP, byAccount *httprate.RateLimiter) {
	var body loginBody
	tok, exp, acct, ok := a.checkLogin(w, r, byIP, byAccount, &body)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expires": exp, "account": acct})
}

// checkLogin reads a login body and checks id and password, making a session; on failure it
// has answered. Attempts are limited per client address and per account id, before the
// password is checked.
func (a *API) checkLogin(w http.ResponseWriter, r *http.Request, byIP, byAccount *httprate.RateLimiter, body *loginBody) (string, time.Time, accounts.Account, bool) {
	host := web.ClientAddress(r) // trusted-proxies aware
	if byIP.OnLimit(w, r, httprate.CanonicalizeIP(host)) {
		writeError(w, errorf(ErrRateLimited, "login"))
		return "", time.Time{}, accounts.Account{}, false
	}
	if !a.decode(w, r, body) {
		return "", time.Time{}, accounts.Account{}, false
	}
	if byAccount.OnLimit(w, r, body.ID) {
		a.log.Warn("agent login rate-limited", "account", body.ID, "remote", host)
		writeError(w, errorf(ErrRateLimited, "login"))
		return "", time.Time{}, accounts.Account{}, false
	}
	tok, exp, acct, err := a.cfg.Accounts.Login(r.Context(), body.ID, body.Password)
	if err != nil {
		if errors.Is(err, accounts.ErrBadCredentials) {
			a.log.Info("agent login refused", "account", body.ID, "remote", host)
			writeError(w, errorf(ErrUnauthorized, "wrong id or password"))
			return "", time.Time{}, accounts.Account{}, false
		}
		writeError(w, errorf(ErrUnavailable, "accounts"))
		return "", time.Time{}, accounts.Account{}, false
	}
	a.log.Info("agent logged in", "account", acct.ID, "remote", host)
	return tok, exp, acct, true
}

func (a *API) answer(w http.ResponseWriter, r *http.Request, p accounts.Principal, act Action) {
	ans, err := a.Do(r.Context(), p, act)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

// decode reads one JSON object (an empty body is an empty object).
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Code: "too_large", Error: "request body too large"})
			return false
		}
		writeJSON(w, http.StatusBadRequest, errorBody{Code: "invalid", Error: "body must be one JSON object of the documented fields"})
		return false
	}
	return true
}

// errorBody is the error shape shared by chatgate's APIs.
type errorBody = apijson.ErrorBody

// statusOf maps an API error to its HTTP status and code.
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest, "invalid"
	case errors.Is(err, ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests, "rate_limited"
	}
	return http.StatusServiceUnavailable, "unavailable"
}

func writeError(w http.ResponseWriter, err error) {
	status, code := statusOf(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="chatgate-agent"`)
	}
	msg := err.Error()
	if status == http.StatusServiceUnavailable {
		msg = "service unavailable, retry"
	}
	writeJSON(w, status, errorBody{Code: code, Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) { apijson.Write(w, status, v) }
