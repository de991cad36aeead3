package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"go.uber.org/goleak"

	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/web/adminauth"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	adminToken = "audit-test-admin-token-0123456789"
	password   = "a-password-never-to-be-logged"
)

// fixture: the real embedded JetStream, adminauth in front of a chi router with an inner
// http.ServeMux (the two ways admin APIs route), the log as the Auditor.
func fixture(t *testing.T) (*Log, *natsserver.Conn, *httptest.Server) {
	t.Helper()
	ctx := context.Background()
	store, err := natsserver.Start(ctx, natsserver.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(ctx) })
	l, err := Open(ctx, Config{Streams: store, Publisher: store.JS})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := adminauth.New(adminauth.Options{Token: adminToken, Audit: l})
	if err != nil {
		t.Fatal(err)
	}
	inner := http.NewServeMux()
	inner.HandleFunc("PUT /{id}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		Note(r.Context(), "thing "+r.PathValue("id"), fmt.Sprintf("put, %d bytes", len(body)))
		w.WriteHeader(http.StatusOK)
	})
	inner.HandleFunc("DELETE /{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusNotFound)
	})
	inner.HandleFunc("GET /{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	root := chi.NewRouter()
	root.Handle("/admin/things/*", http.StripPrefix("/admin/things", auth.Require(inner)))
	sub := chi.NewRouter()
	sub.Use(auth.Require)
	sub.Post("/{name}/rotate", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	root.Mount("/admin/keys", sub)
	root.Handle("/admin/audit", l.Handler(auth))
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	return l, store, srv
}

func send(t *testing.T, srv *httptest.Server, method, path, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func page(t *testing.T, srv *httptest.Server, query string) (entries []Entry, next uint64) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/admin/audit"+query, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Entries []Entry `json:"entries"`
		Next    uint64  `json:"next"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("GET /admin/audit%s: %d", query, resp.StatusCode)
	}
	return out.Entries, out.Next
}

func TestChangesAreRecordedWithoutSecrets(t *testing.T) {
	l, store, srv := fixture(t)
	if st := send(t, srv, "PUT", "/admin/things/alpha?password="+password, `{"password":"`+password+`"}`); st != 200 {
		t.Fatal(st)
	}
	if st := send(t, srv, "GET", "/admin/things/alpha", ""); st != 200 {
		t.Fatal(st)
	}
	if st := send(t, srv, "DELETE", "/admin/things/beta", ""); st != 404 {
		t.Fatal(st)
	}
	if st := send(t, srv, "POST", "/admin/keys/vapid/rotate", ""); st != 202 {
		t.Fatal(st)
	}
	// Unauthenticated requests are not the log's business (anyone could fill it).
	req, _ := http.NewRequest("PUT", srv.URL+"/admin/things/gamma", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("no credentials: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	got, next := page(t, srv, "")
	if len(got) != 3 || next != 0 {
		t.Fatalf("%d entries (next %d), want 3: %+v", len(got), next, got)
	}
	want := []Entry{
		{Method: "POST", Route: "/admin/keys/{name}/rotate", Path: "/admin/keys/vapid/rotate", Status: 202},
		{Method: "DELETE", Route: "/admin/things/{id}", Path: "/admin/things/beta", Status: 404},
		{Method: "PUT", Route: "/admin/things/{id}", Path: "/admin/things/alpha", Resource: "thing alpha", Summary: fmt.Sprintf("put, %d bytes", len(`{"password":"`+password+`"}`)), Status: 200},
	}
	for i, w := range want {
		g := got[i]
		if g.Method != w.Method || g.Route != w.Route || g.Path != w.Path || g.Resource != w.Resource || g.Summary != w.Summary || g.Status != w.Status ||
			g.Actor != (adminauth.Actor{ID: "admin", Via: "token"}) || g.Time.IsZero() || g.Seq == 0 {
			t.Errorf("entry %d: %+v, want %+v", i, g, w)
		}
	}
	if got[0].Seq <= got[1].Seq {
		t.Fatal("not newest first")
	}
	if rec, failed := l.Stats(); rec != 3 || failed != 0 {
		t.Fatalf("stats %d %d", rec, failed)
	}
	// The stored records, read raw from the stream: no password, no admin token.
	s, err := store.JS.Stream(context.Background(), Stream)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(m.Data), password) || strings.Contains(string(m.Data), adminToken) {
			t.Fatalf("record %d holds a secret: %s", seq, m.Data)
		}
	}
}

func TestPaging(t *testing.T) {
	_, _, srv := fixture(t)
	for i := range 7 {
		if st := send(t, srv, "PUT", fmt.Sprintf("/admin/things/t%d", i), ""); st != 200 {
			t.Fatal(st)
		}
	}
	var paths []string
	query := "?limit=3"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		list, next := page(t, srv, query)
		for _, e := range list {
			paths = append(paths, e.Path)
		}
		if next == 0 {
			break
		}
		query = fmt.Sprintf("?limit=3&before=%d", next)
	}
	want := "/admin/things/t6 /admin/things/t5 /admin/things/t4 /admin/things/t3 /admin/things/t2 /admin/things/t1 /admin/things/t0"
	if strings.Join(paths, " ") != want {
		t.Fatalf("paged %v", paths)
	}
	for _, q := range []string{"?limit=0", "?limit=201", "?before=x"} {
		req, _ := http.NewRequest("GET", srv.URL+"/admin/audit"+q, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 400 {
			t.Fatalf("%s: %v %v", q, resp, err)
		}
		resp.Body.Close()
	}
}
