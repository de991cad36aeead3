package main

import (
	"net/http"

	"github.com/chatgate/chatgate/web/console"
)

// mountConsole serves the agent console at /agent/, the supervisor board at /supervisor/ and
// the admin console at /admin/ with their assets under /console/ (docs/consoles.md). Kept
// apart from the router setup like mountWidget.
func mountConsole(mux interface{ Handle(string, http.Handler) }) {
	console.Register(mux)
}
