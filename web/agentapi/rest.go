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
	mux := http.NewServeMux()
	// Per address ten times the per-account limit: several agents share an office's address.
	byIP := httprate.NewRateLimiter(10*a.cfg.LoginPerMinute, time.Minute)
	byAccount := httprate.NewRateLimiter(a.cfg.LoginPerMinute, time.Minute)
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) { a.login(w, r, byIP, byAccount) })
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	auth := func(pattern string, f func(w http.ResponseWriter, r *http.Request, p accounts.Principal)) {
		mux.Handle(pattern, a.requireToken(func(w http.ResponseWriter, r *http.Request) { f(w, r, principal(r)) }))
	}
	auth("POST /logout", func(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
		if p.Session {
			if err := a.cfg.Accounts.Logout(r.Context(), bearer(r)); err != nil {
				writeError(w, err)
				return
			}
		}
		if _, err := a.setState(r.Context(), p.Account, StateLoggedOut, ""); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	auth("GET /me", func(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
		writeJSON(w, http.StatusOK, map[string]any{"account": p.Account, "presence": a.presence(p.Account)})
	})
	auth("PUT /me/state", func(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
		var act Action
		if !a.decode(w, r, &act) {
			return
		}
		act.Action = ActState
		a.answer(w, r, p, act)
	})
	auth("GET /chats", func(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
		writeJSON(w, http.StatusOK, map[string]any{"chats": a.myChats(p.Account)})
	})
	auth("GET /offers", func(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
		writeJSON(w, http.StatusOK, map[string]any{"offers": a.pendingOffers(p.Account.ID)})
	})
	auth("GET /workbin", func(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
		list, err := a.workbin(r.Context(), p.Account)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"chats": list})
	})
	auth("GET /chats/{chatId}", func(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
		ci, err := a.chatInfo(r.Context(), p.Account, r.PathValue("chatId"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, ci)
	})
	auth("GET /chats/{chatId}/transcript", func(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
		from := int64(1)
		if s := r.URL.Query().Get("from"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 1 {
				writeError(w, errorf(ErrInvalid, "from must be a positive index"))
				return
			}
			from = n
		}
		evs, page, err := a.transcript(r.Context(), p.Account, r.PathValue("chatId"), from)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"events": evs, "next": page.Next, "more": page.More})
	})
	auth("GET /chats/{chatId}/history", func(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
		list, err := a.history(r.Context(), p.Account, r.PathValue("chatId"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"chats": list})
	})
	auth("POST /chats/{chatId}/{action}", func(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
		var act Action
		if !a.decode(w, r, &act) {
			return
		}
		act.Action, act.ChatID = r.PathValue("action"), r.PathValue("chatId")
		a.answer(w, r, p, act)
	})
	auth(uploadPattern, a.upload)
	auth(downloadPattern, a.download)
	supervisor := func(pattern string, f func(p accounts.Principal) any) {
		auth(pattern, func(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
			if p.Account.Role != accounts.RoleSupervisor {
				writeError(w, errorf(ErrForbidden, "supervisors only"))
				return
			}
			writeJSON(w, http.StatusOK, f(p))
		})
	}
	supervisor("GET /supervisor/agents", func(p accounts.Principal) any { return map[string]any{"agents": a.presences()} })
	supervisor("GET /supervisor/queues", func(p accounts.Principal) any { return map[string]any{"queues": a.queues(p.Account)} })
	auth("GET /supervisor/queues/{queue}", func(w http.ResponseWriter, r *http.Request, p accounts.Principal) {
		list, err := a.waiting(p.Account, r.PathValue("queue"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"queue": r.PathValue("queue"), "chats": list})
	})
	supervisor("GET /supervisor/chats", func(p accounts.Principal) any { return map[string]any{"chats": a.liveChats(p.Account)} })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Code: "not_found", Error: "no such endpoint"})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		r.Body = http.MaxBytesReader(w, r.Body, a.bodyLimit(mux, r))
		mux.ServeHTTP(w, r)
	})
}

// requireToken authenticates the bearer token (401 without a valid one).
func (a *API) requireToken(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		if tok == "" {
			writeError(w, errorf(ErrUnauthorized, "no bearer token"))
			return
		}
		p, err := a.cfg.Accounts.Authenticate(r.Context(), tok)
		if err != nil {
			if errors.Is(err, accounts.ErrUnavailable) {
				writeError(w, errorf(ErrUnavailable, "accounts"))
				return
			}
			writeError(w, errorf(ErrUnauthorized, "token not accepted"))
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
	})
}

type loginBody struct {
	ID       string `json:"id"`
	Password string `json:"password"`
}

// login checks id and password and returns a session token. Attempts are limited per
// client address and per account id, before the password is checked.
func (a *API) login(w http.ResponseWriter, r *http.Request, byIP, byAccount *httprate.RateLimiter) {
	host := web.ClientAddress(r) // trusted-proxies aware
	if byIP.OnLimit(w, r, httprate.CanonicalizeIP(host)) {
		writeError(w, errorf(ErrRateLimited, "login"))
		return
	}
	var body loginBody
	if !a.decode(w, r, &body) {
		return
	}
	if byAccount.OnLimit(w, r, body.ID) {
		a.log.Warn("agent login rate-limited", "account", body.ID, "remote", host)
		writeError(w, errorf(ErrRateLimited, "login"))
		return
	}
	tok, exp, acct, err := a.cfg.Accounts.Login(r.Context(), body.ID, body.Password)
	if err != nil {
		if errors.Is(err, accounts.ErrBadCredentials) {
			a.log.Info("agent login refused", "account", body.ID, "remote", host)
			writeError(w, errorf(ErrUnauthorized, "wrong id or password"))
			return
		}
		writeError(w, errorf(ErrUnavailable, "accounts"))
		return
	}
	a.log.Info("agent logged in", "account", acct.ID, "remote", host)
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expires": exp, "account": acct})
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

type errorBody struct {
	Code  string `json:"code"`
	Error string `json:"error"`
}

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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
