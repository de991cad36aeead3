// Package apijson writes the JSON answers of chatgate's own HTTP APIs (the push admin API,
// the workflow API, the admin authentication in front of both, and the agent API) in one
// shape, so a client or an operator's script reads every error the same way:
//
//	{"error": "<what is wrong, for a person>", "code": "<stable code, for a program>"}
//
// The GMS Chat API v2 keeps its own, Genesys-defined error body (web/gmschat).
//
// Answers are never cached (Cache-Control: no-store): they carry credentials metadata,
// chat state or counters that are stale a moment later.
package apijson

import (
	"encoding/json"
	"net/http"
)

// Stable error codes shared by the APIs; an API may add codes of its own (workflow:
// chat_not_found, restore_not_allowed, ...).
const (
	CodeBadRequest       = "bad_request"
	CodeUnauthorized     = "unauthorized"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooLarge         = "too_large"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
	// CodeCSRF: a request authenticated by a console session cookie without the session's
	// CSRF token, or from another origin (403; nothing was done).
	CodeCSRF = "csrf"
)

// ErrorBody is the error answer.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// Write answers status with v as JSON.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Error answers status with {"error": msg, "code": code}.
func Error(w http.ResponseWriter, status int, code, msg string) {
	Write(w, status, ErrorBody{Error: msg, Code: code})
}
