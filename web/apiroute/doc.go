// Package apiroute is the router of chatgate's own JSON APIs below the server's router
// (the workflow API and its event feed, the agent API, the account administration):
// go-chi/chi, with what every one of them must answer the same way, in one place:
//
//   - an unknown path is 404 and a known path with another method is 405 with Allow, both
//     in the web/apijson error shape (chi's defaults are a text body and an empty one);
//   - HEAD is served by the GET routes (chi's middleware.GetHead), as net/http.ServeMux did;
//   - the router routes with a routing context of its own. Mounted with http.StripPrefix
//     under the server's chi router (web.Server.Handle), chi would otherwise continue the
//     parent's context: its method, its URL parameters and its "method not allowed"
//     bookkeeping from the parent's tree.
package apiroute
