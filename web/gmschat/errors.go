package gmschat

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Code is one of chatgate's numeric GMS error codes (errors[].code). GMS publishes no table
// of its own, so these are ours; docs/gms-api.md lists them with their HTTP statuses.
type Code int

// Error codes. The hundreds digit groups them by HTTP status family.
const (
	CodeMalformed          Code = 100 // 400 body cannot be decoded
	CodeMissingField       Code = 101 // 400 a required field is absent or empty
	CodeInvalidField       Code = 102 // 400 a field has an invalid value
	CodeUnknownOperation   Code = 103 // 404 no such operation / path
	CodeMethodNotAllowed   Code = 104 // 405 only POST is served
	CodeMissingCredentials Code = 200 // 401 secureKey absent
	CodeForbidden          Code = 201 // 403 unknown chat, or secureKey/userId/alias do not match
	CodeNoBayeuxSession    Code = 202 // 403 chat-ntf without a Bayeux session cookie bound to the chat
	CodeUnknownService     Code = 300 // 404 unknown serviceName
	CodeFileNotFound       Code = 301 // 404 no such file in this chat
	CodeBodyTooLarge       Code = 400 // 413 request body over the limit
	CodeMessageTooLarge    Code = 401 // 413 message/notice/nickname/userData value over the limit
	CodeFileTooLarge       Code = 402 // 413 file over upload-max-file-size
	CodeFileLimit          Code = 403 // 413 upload-max-files / upload-max-total-size / download-attempts used up
	CodeTranscriptFull     Code = 404 // 413 the chat's transcript reached its event or byte limit
	CodeUnsupportedMedia   Code = 410 // 415 request Content-Type not accepted
	CodeFileTypeForbidden  Code = 411 // 415 file extension not in upload-file-types
	CodeRateLimited        Code = 500 // 429 too many requests
	CodeUnavailable        Code = 600 // 503 not ready, overloaded, store unavailable (retry)
	CodeConflict           Code = 601 // 503 concurrent update lost (retry)
	CodeInternal           Code = 700 // 500 unexpected server error
)

// httpStatus is the HTTP status each code is answered with.
var httpStatus = map[Code]int{
	CodeMalformed:          http.StatusBadRequest,
	CodeMissingField:       http.StatusBadRequest,
	CodeInvalidField:       http.StatusBadRequest,
	CodeUnknownOperation:   http.StatusNotFound,
	CodeMethodNotAllowed:   http.StatusMethodNotAllowed,
	CodeMissingCredentials: http.StatusUnauthorized,
	CodeForbidden:          http.StatusForbidden,
	CodeNoBayeuxSession:    http.StatusForbidden,
	CodeUnknownService:     http.StatusNotFound,
	CodeFileNotFound:       http.StatusNotFound,
	CodeBodyTooLarge:       http.StatusRequestEntityTooLarge,
	CodeMessageTooLarge:    http.StatusRequestEntityTooLarge,
	CodeFileTooLarge:       http.StatusRequestEntityTooLarge,
	CodeFileLimit:          http.StatusRequestEntityTooLarge,
	CodeTranscriptFull:     http.StatusRequestEntityTooLarge,
	CodeUnsupportedMedia:   http.StatusUnsupportedMediaType,
	CodeFileTypeForbidden:  http.StatusUnsupportedMediaType,
	CodeRateLimited:        http.StatusTooManyRequests,
	CodeUnavailable:        http.StatusServiceUnavailable,
	CodeConflict:           http.StatusServiceUnavailable,
	CodeInternal:           http.StatusInternalServerError,
}

// HTTPStatus is the HTTP status a code is answered with (500 for an unknown code).
func (c Code) HTTPStatus() int {
	if s, ok := httpStatus[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// StatusCode is the GMS statusCode carried in the common response object (§1.4).
type StatusCode int

// statusCode values of §1.4.
const (
	StatusOK        StatusCode = 0 // success
	StatusTransient StatusCode = 1 // retry may succeed
	StatusFatal     StatusCode = 2 // retry pointless; chat may have ended (check chatEnded)
)

// Retryable reports whether a client may retry a request that failed with this code; the
// CometD flavour uses it to pick statusCode 1 or 2 for a pushed error.
func (c Code) Retryable() bool {
	switch c {
	case CodeRateLimited, CodeUnavailable, CodeConflict:
		return true
	}
	return false
}

// APIError is a failure answered with the GMS error body. Err, when set, is the cause (kept
// for logs and errors.Is; never written to the client).
type APIError struct {
	Code   Code
	Advice string
	Err    error
}

func (e *APIError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("gms error %d: %s: %v", e.Code, e.Advice, e.Err)
	}
	return fmt.Sprintf("gms error %d: %s", e.Code, e.Advice)
}

func (e *APIError) Unwrap() error { return e.Err }

// Errorf builds an APIError whose advice is the formatted text.
func Errorf(code Code, format string, args ...any) *APIError {
	return &APIError{Code: code, Advice: fmt.Sprintf(format, args...)}
}

// wrapErr builds an APIError with a cause.
func wrapErr(code Code, advice string, err error) *APIError {
	return &APIError{Code: code, Advice: advice, Err: err}
}

// AsAPIError returns err as an APIError; any other error becomes CodeInternal with a generic
// advice so internal details never reach the client.
func AsAPIError(err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	return &APIError{Code: CodeInternal, Advice: "internal error", Err: err}
}

// ErrorBody is the GMS error body as clients read it: statusCode and errors (the
// credentials and chatEnded of Response may be present too).
type ErrorBody struct {
	StatusCode StatusCode  `json:"statusCode"`
	Errors     []ErrorItem `json:"errors"`
}

// ErrorItem is one element of ErrorBody.Errors.
type ErrorItem struct {
	Code   Code   `json:"code"`
	Advice string `json:"advice"`
}

// WriteError answers err with its HTTP status and the GMS error body (Failure), without
// credentials: for failures before the request's credentials were verified.
func WriteError(w http.ResponseWriter, err error) { WriteFailure(w, err, Credentials{}) }

// WriteFailure answers err with its HTTP status and the GMS error body carrying the session's
// verified credentials (§9.4).
func WriteFailure(w http.ResponseWriter, err error, own Credentials) {
	ae := AsAPIError(err)
	body, _ := json.Marshal(Failure(ae, "").WithCredentials(own))
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(ae.Code.HTTPStatus())
	_, _ = w.Write(body)
}
