package agentapi

import _ "embed"

// openAPI is the OpenAPI 3.1 document of the REST API, served at Prefix+"/openapi.json".
// TestOpenAPIMatchesRoutes checks that it lists every route the handler serves.
//
//go:embed openapi.json
var openAPI []byte
