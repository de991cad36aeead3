package responses

import (
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/chatgate/chatgate/web/apijson"
	"github.com/chatgate/chatgate/web/apiroute"
)

// Authorizer is the admin authentication (*adminauth.Credentials implements it).
type Authorizer interface {
	Require(next http.Handler) http.Handler
}

// MaxAdminBody bounds an admin request body: a response's text and scope with room for
// JSON escapes.
const MaxAdminBody = 32 << 10

// CodeConflict is the error code of a taken shortcut or a full bucket (409).
const CodeConflict = "conflict"

// openAPI is the OpenAPI 3.1 document of AdminHandler, served at GET /openapi.json.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document of AdminHandler.
func OpenAPI() []byte { return openAPI }

// AdminHandler serves the standard responses administration API, relative to where it is
// mounted (cmd/chatgate mounts it at /admin/responses):
//
//	GET    /              list
//	POST   /              create (Spec as JSON) → 201 Response
//	GET    /{id}          one
//	PUT    /{id}          replace (Spec as JSON) → 200 Response
//	DELETE /{id}          delete → 204
//	GET    /openapi.json  this API's OpenAPI document (public: shapes, no data)
//
// Every route but the document is behind auth.
func AdminHandler(s *Store, auth Authorizer) http.Handler {
	// 404 and 405 (with Allow) in the apijson shape, HEAD on GET routes, its own routing
	// context below the server's router: web/apiroute.
	r := apiroute.New()
	r.Get("/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	r.Group(func(r chi.Router) {
		r.Use(auth.Require, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				req.Body = http.MaxBytesReader(w, req.Body, MaxAdminBody)
				next.ServeHTTP(w, req)
			})
		})
		r.Get("/", func(w http.ResponseWriter, req *http.Request) {
			list, err := s.List(req.Context())
			if err != nil {
				writeErr(w, err)
				return
			}
			apijson.Write(w, http.StatusOK, map[string]any{"responses": list})
		})
		r.Post("/", func(w http.ResponseWriter, req *http.Request) {
			var sp Spec
			if !decode(w, req, &sp) {
				return
			}
			resp, err := s.Create(req.Context(), sp)
			if err != nil {
				writeErr(w, err)
				return
			}
			apijson.Write(w, http.StatusCreated, resp)
		})
		r.Get("/{id}", func(w http.ResponseWriter, req *http.Request) {
			resp, err := s.Get(req.Context(), chi.URLParam(req, "id"))
			if err != nil {
				writeErr(w, err)
				return
			}
			apijson.Write(w, http.StatusOK, resp)
		})
		r.Put("/{id}", func(w http.ResponseWriter, req *http.Request) {
			var sp Spec
			if !decode(w, req, &sp) {
				return
			}
			resp, err := s.Update(req.Context(), chi.URLParam(req, "id"), sp)
			if err != nil {
				writeErr(w, err)
				return
			}
			apijson.Write(w, http.StatusOK, resp)
		})
		r.Delete("/{id}", func(w http.ResponseWriter, req *http.Request) {
			if err := s.Delete(req.Context(), chi.URLParam(req, "id")); err != nil {
				writeErr(w, err)
				return
			}
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
		})
	})
	return r
}

// decode reads one JSON object of the documented fields.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			apijson.Error(w, http.StatusRequestEntityTooLarge, apijson.CodeTooLarge, "request body larger than 32 KiB")
			return false
		}
		apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest,
			"body must be one JSON object with name, text and optionally shortcut, services, queues")
		return false
	}
	return true
}

func writeErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrInvalid):
		apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, message(err, ErrInvalid))
	case errors.Is(err, ErrNotFound):
		apijson.Error(w, http.StatusNotFound, apijson.CodeNotFound, "no such standard response")
	case errors.Is(err, ErrConflict):
		apijson.Error(w, http.StatusConflict, CodeConflict, message(err, ErrConflict))
	default:
		apijson.Error(w, http.StatusServiceUnavailable, apijson.CodeUnavailable, "store unavailable, retry")
	}
}

// message is an error's text for a person: without the sentinel's name at its end.
func message(err, sentinel error) string {
	return strings.TrimSuffix(err.Error(), ": "+sentinel.Error())
}
