package main

import (
	"net/http"

	"github.com/chatgate/chatgate/web/adminauth"
	"github.com/chatgate/chatgate/web/agentapi"
	"github.com/chatgate/chatgate/web/console"
)

// AdminSessionPath is where the admin console exchanges the admin token for a session
// cookie (web/adminauth.SessionHandler).
const AdminSessionPath = "/admin/session"

// mountConsole serves the agent console at /agent/, the supervisor board at /supervisor/ and
// the admin console at /admin/ with their assets under /console/ (docs/consoles.md), each
// page whole only to a session cookie of its role (the agent API's for staff, the admin
// credentials' for admins), and the admin console's session endpoint. Kept apart from the
// router setup like mountWidget.
func mountConsole(mux interface{ Handle(string, http.Handler) }, api *agentapi.API, auth *adminauth.Credentials) {
	console.Register(mux, console.Admission{
		Staff: func(r *http.Request, name string) bool {
			a, ok := api.ConsoleAccount(r)
			return ok && agentapi.ConsoleAdmits(name, a.Role)
		},
		Admin: auth.ConsoleSession,
	})
	mux.Handle(AdminSessionPath, auth.SessionHandler())
}
