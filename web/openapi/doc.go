// Package openapi holds the OpenAPI 3.1 documents of chatgate's REST APIs — the GMS Chat
// API v2 (REST flavour), the workflow API, the push administration API, the live chat
// options API (/admin/options) and the account administration API (/admin/accounts) — and
// serves them
// from the binary at /openapi/, so a client generator or an API gateway reads the contract of
// the exact build it talks to.
//
// # Why hand-written documents, checked against real traffic
//
// The handlers are plain net/http code over wire types that follow the Genesys material
// (form bodies with userData[key] bracket fields, one response object for every answer), so
// a generator would describe them worse than a person does. What keeps a hand-written
// document honest is the test in cmd/chatgate (TestOpenAPIDescribesRealTraffic): it drives
// the real binary through every operation of these APIs, successes and failures, and
// validates each real request and response against these documents with kin-openapi (as
// fetched from the binary's /openapi/ endpoint). A document that drifts from the code fails
// that test.
//
// The documents are public: they describe request shapes, never credentials or data.
package openapi
