package accounts

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/chatgate/chatgate/web/apijson"
	"github.com/chatgate/chatgate/web/apiroute"
	"github.com/chatgate/chatgate/web/audit"
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
// Every route is behind auth. Answers and errors have the shape of the admin APIs
// (web/apijson); 404 and 405 come from the router (web/apiroute).
func AdminHandler(s *Store, auth Authorizer) http.Handler {
	mux := apiroute.New()
	mux.Get("/", func(w http.ResponseWriter, r *http.Request) {
		list, err := s.List(r.Context())
		if err != nil {
			writeErr(w, err)
			return
		}
		if list == nil {
			list = []Account{}
		}
		apijson.Write(w, http.StatusOK, map[string]any{"accounts": list})
	})
	mux.Get("/{id}", func(w http.ResponseWriter, r *http.Request) {
		a, err := s.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			writeErr(w, err)
			return
		}
		apijson.Write(w, http.StatusOK, a)
	})
	mux.Put("/{id}", func(w http.ResponseWriter, r *http.Request) {
		var sp Spec
		if !decode(w, r, &sp) {
			return
		}
		a, err := s.Put(r.Context(), r.PathValue("id"), sp)
		audit.Note(r.Context(), "account "+r.PathValue("id"), specSummary(sp))
		if err != nil {
			writeErr(w, err)
			return
		}
		apijson.Write(w, http.StatusOK, a)
	})
	mux.Delete("/{id}", func(w http.ResponseWriter, r *http.Request) {
		audit.Note(r.Context(), "account "+r.PathValue("id"), "delete")
		if err := s.Delete(r.Context(), r.PathValue("id")); err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.Post("/{id}/tokens", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Label string `json:"label"`
		}
		if !decode(w, r, &body) {
			return
		}
		tok, ref, err := s.NewToken(r.Context(), r.PathValue("id"), body.Label)
		audit.Note(r.Context(), "account "+r.PathValue("id"), "new API token "+ref.ID) // the reference, never the token
		if err != nil {
			writeErr(w, err)
			return
		}
		apijson.Write(w, http.StatusCreated, map[string]any{"token": tok, "ref": ref})
	})
	mux.Delete("/{id}/tokens/{tokenId}", func(w http.ResponseWriter, r *http.Request) {
		audit.Note(r.Context(), "account "+r.PathValue("id"), "revoke API token "+r.PathValue("tokenId"))
		if err := s.RevokeToken(r.Context(), r.PathValue("id"), r.PathValue("tokenId")); err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return auth.Require(mux)
}

// specSummary is the audit summary of a PUT: what was set, never the password itself.
func specSummary(sp Spec) string {
	out := fmt.Sprintf("put role %s, %d queues, capacity %d", sp.Role, len(sp.Queues), sp.Capacity)
	if sp.Disabled {
		out += ", disabled"
	}
	if sp.Password != "" {
		out += ", password set"
	}
	return out
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, "body must be one JSON object of the documented fields")
		return false
	}
	return true
}

func writeErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		apijson.Error(w, http.StatusNotFound, apijson.CodeNotFound, "no such account or token")
	case errors.Is(err, ErrInvalid):
		apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, err.Error())
	default:
		apijson.Error(w, http.StatusServiceUnavailable, apijson.CodeUnavailable, "store unavailable, retry")
	}
}
