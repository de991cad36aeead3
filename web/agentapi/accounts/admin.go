package accounts

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Authorizer is the admin authentication (*adminauth.Credentials implements it).
type Authorizer interface {
	Require(next http.Handler) http.Handler
}

// maxAdminBody bounds an admin request body.
const maxAdminBody = 16 << 10

// AdminHandler serves the account administration API, relative to where it is mounted
// (cmd/chatgate mounts it at /admin/accounts):
//
//	GET    /                     list accounts
//	GET    /{id}                 one account
//	PUT    /{id}                 create or replace (Spec as JSON; no password keeps the stored one)
//	DELETE /{id}                 delete (its sessions and tokens stop working)
//	POST   /{id}/tokens          new API token {"label"} → {"token", "ref"} (the token shown once)
//	DELETE /{id}/tokens/{tokenId} revoke a token
//
// Every route is behind auth.
func AdminHandler(s *Store, auth Authorizer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		list, err := s.List(r.Context())
		if err != nil {
			writeErr(w, err)
			return
		}
		if list == nil {
			list = []Account{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"accounts": list})
	})
	mux.HandleFunc("GET /{id}", func(w http.ResponseWriter, r *http.Request) {
		a, err := s.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, a)
	})
	mux.HandleFunc("PUT /{id}", func(w http.ResponseWriter, r *http.Request) {
		var sp Spec
		if !decode(w, r, &sp) {
			return
		}
		a, err := s.Put(r.Context(), r.PathValue("id"), sp)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, a)
	})
	mux.HandleFunc("DELETE /{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Delete(r.Context(), r.PathValue("id")); err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /{id}/tokens", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Label string `json:"label"`
		}
		if !decode(w, r, &body) {
			return
		}
		tok, ref, err := s.NewToken(r.Context(), r.PathValue("id"), body.Label)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "ref": ref})
	})
	mux.HandleFunc("DELETE /{id}/tokens/{tokenId}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.RevokeToken(r.Context(), r.PathValue("id"), r.PathValue("tokenId")); err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	}))
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Code: "bad_request", Error: "body must be one JSON object of the documented fields"})
		return false
	}
	return true
}

type errorBody struct {
	Code  string `json:"code"`
	Error string `json:"error"`
}

func writeErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, errorBody{Code: "not_found", Error: "no such account or token"})
	case errors.Is(err, ErrInvalid):
		writeJSON(w, http.StatusBadRequest, errorBody{Code: "invalid", Error: err.Error()})
	default:
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Code: "unavailable", Error: "store unavailable, retry"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
