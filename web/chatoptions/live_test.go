package chatoptions

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatgate/chatgate/internal/config"
	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/internal/testwait"
	"github.com/chatgate/chatgate/web/adminauth"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "options-test-token-0123456789"

var file = config.ChatOptions{
	"":      {"settings": {"async-idle-alert": "600", "async-idle-close": "60"}, "routing": {"offer-timeout": "20", "no-agent-notice": "wait"}},
	"sales": {"settings": {"async-idle-alert": "30"}, "routing": {"queue": "sales-q", "priority": "10"}},
}

func TestFileLayers(t *testing.T) {
	l, err := Open(context.Background(), Config{File: file})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Options("other").Settings.AsyncIdleAlert; got != 600*time.Second {
		t.Errorf("default scope alert = %v", got)
	}
	sales := l.Options("sales").Settings
	if sales.AsyncIdleAlert != 30*time.Second || sales.AsyncIdleClose != 60*time.Second {
		t.Errorf("sales = alert %v close %v, want 30s over the [chat] 60s close", sales.AsyncIdleAlert, sales.AsyncIdleClose)
	}
	rs := l.Routing()
	if rs.OfferTimeout != 20*time.Second || rs.Services["sales"].Queue != "sales-q" || rs.Services["sales"].Priority != 10 || rs.Services["sales"].NoAgentNotice != "wait" {
		t.Fatalf("routing settings %+v", rs)
	}
	// A bad file is refused whole; the running options stay.
	for _, bad := range []config.ChatOptions{
		{"": {"settings": {"async-idle-alert": "5"}}, "sales": {"settings": {"nope": "1"}}},
		{"sales": {"routing": {"priority": "high"}}},
	} {
		if err := l.ReloadFile(bad); !errors.Is(err, config.ErrInvalid) {
			t.Fatalf("reload %v: %v", bad, err)
		}
	}
	if l.Options("other").Settings.AsyncIdleAlert != 600*time.Second || l.Routing().Services["sales"].Priority != 10 {
		t.Fatal("a refused file changed the options")
	}
}

// node is one chatgate node's Live options on the shared bucket, counting OnChange.
type node struct {
	l       *Live
	changes atomic.Int64
}

func openNode(t *testing.T, conn *natsserver.Conn, f config.ChatOptions) *node {
	t.Helper()
	kv, err := OpenBucket(context.Background(), conn.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{}
	n.l, err = Open(context.Background(), Config{KV: kv, File: f, OnChange: func() { n.changes.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.l.Close)
	return n
}

type answer struct {
	status int
	body   []byte
}

func call(t *testing.T, srv *httptest.Server, method, path, tok, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b}
}

func (a answer) view(t *testing.T) View {
	t.Helper()
	var v View
	if a.status != 200 || json.Unmarshal(a.body, &v) != nil {
		t.Fatalf("want a view: %d %s", a.status, a.body)
	}
	return v
}

// TestOverridesAcrossNodes: an override PUT on one node is stored in the bucket, applied by
// the watch of every node (OnChange), layered over the file per scope, shown with its
// source, kept across a file reload and a restart, and dropped by DELETE; refused values
// answer 400 naming the option and change nothing.
func TestOverridesAcrossNodes(t *testing.T) {
	ctx := context.Background()
	conn, err := natsserver.Start(ctx, natsserver.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	a, b := openNode(t, conn, file), openNode(t, conn, file)
	auth, err := adminauth.New(adminauth.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	h, err := Handler(HandlerConfig{Live: a.l, Auth: auth, Services: []string{"support"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix(Prefix, h))
	t.Cleanup(srv.Close)

	if r := call(t, srv, "GET", Prefix+"/services/sales", "", ""); r.status != 401 {
		t.Fatalf("without credentials: %d", r.status)
	}
	v := call(t, srv, "GET", Prefix+"/services/sales", token, "").view(t)
	if got := v.Sections["settings"]["async-idle-alert"]; got != (Value{Value: "30", Source: SourceFile, From: "chat.sales"}) {
		t.Fatalf("file value %+v", got)
	}
	if got := v.Sections["settings"]["async-idle-close"]; got != (Value{Value: "60", Source: SourceFile, From: "chat"}) {
		t.Fatalf("inherited file value %+v", got)
	}
	if got := v.Sections["settings"]["flex-push-timeout"]; got != (Value{Value: "300", Source: SourceDefault}) {
		t.Fatalf("default %+v", got)
	}
	if got := v.Sections["routing"]["queue"]; got.Value != "sales-q" || got.Source != SourceFile {
		t.Fatalf("queue %+v", got)
	}

	// The API's defaults sit under the file's service scope, over the file's defaults.
	before := b.changes.Load()
	r := call(t, srv, "PUT", Prefix+"/defaults", token, `{"settings": {"async-idle-alert": 900, "async-idle-close": 120}}`)
	if got := r.view(t).Sections["settings"]["async-idle-close"]; got != (Value{Value: "120", Source: SourceOverride, From: "chat"}) {
		t.Fatalf("defaults override %+v", got)
	}
	testwait.Until(t, 10*time.Second, "node b applies the defaults", func() bool { return b.changes.Load() > before })
	if s := b.l.Options("sales").Settings; s.AsyncIdleAlert != 30*time.Second || s.AsyncIdleClose != 120*time.Second {
		t.Fatalf("node b sales: alert %v close %v", s.AsyncIdleAlert, s.AsyncIdleClose)
	}
	if b.l.Options("other").Settings.AsyncIdleAlert != 900*time.Second {
		t.Fatal("node b: defaults override not applied")
	}

	// A service override beats the file's service value; routing's mapping moves too.
	before = b.changes.Load()
	r = call(t, srv, "PUT", Prefix+"/services/sales", token, `{"settings": {"async-idle-alert": "45"}, "routing": {"queue": "vip", "priority": 3}}`)
	v = r.view(t)
	if got := v.Sections["settings"]["async-idle-alert"]; got != (Value{Value: "45", Source: SourceOverride, From: "chat.sales"}) {
		t.Fatalf("service override %+v", got)
	}
	if v.Overrides["routing"]["queue"] != "vip" || v.Sections["routing"]["queue"] != (Value{Value: "vip", Source: SourceOverride, From: "chat.sales"}) {
		t.Fatalf("routing override %+v %+v", v.Overrides, v.Sections["routing"])
	}
	testwait.Until(t, 10*time.Second, "node b applies the service", func() bool { return b.changes.Load() > before })
	if b.l.Options("sales").Settings.AsyncIdleAlert != 45*time.Second || b.l.Routing().Services["sales"] != (struct {
		Queue         string
		Priority      int
		NoAgentNotice string
	}{"vip", 3, "wait"}) {
		t.Fatalf("node b: %v %+v", b.l.Options("sales").Settings.AsyncIdleAlert, b.l.Routing().Services["sales"])
	}

	// Refused: each bad option named, with why; nothing stored or applied.
	rev := func() uint64 {
		st, err := a.l.kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Values()
	}
	values := rev()
	for _, c := range []struct{ body, want string }{
		{`{"settings": {"async-idle-alert": 0, "nope": 1}}`, "async-idle-alert"},
		{`{"settings": {"async-idle-alert": "soon"}}`, "want an integer 1–1728000 (seconds)"},
		{`{"routing": {"offer-timeout": 5}}`, "read at start only"},
		{`{"bogus": {"x": 1}}`, "unknown section"},
		{`{"settings": {"message-alert": {"nested": 1}}}`, "want a string, number or boolean"},
		{`[1]`, "want an object"},
		{`{"inactivity-control": {"message-alert": "` + strings.Repeat("x", MaxValue+1) + `"}}`, "longer than 4096 bytes"},
	} {
		r := call(t, srv, "PUT", Prefix+"/services/sales", token, c.body)
		var ib InvalidBody
		if r.status != 400 || json.Unmarshal(r.body, &ib) != nil || ib.Code != CodeInvalidOption || !strings.Contains(string(r.body), c.want) {
			t.Fatalf("%.60s: %d %.300s", c.body, r.status, r.body)
		}
	}
	r = call(t, srv, "PUT", Prefix+"/services/sales", token, `{"settings": {"async-idle-alert": 0, "nope": 1}}`)
	var ib InvalidBody
	_ = json.Unmarshal(r.body, &ib)
	if len(ib.Problems) != 2 || ib.Problems[0] != (OptionProblem{Section: "settings", Option: "async-idle-alert", Value: "0", Message: "want an integer 1–1728000 (seconds)"}) || ib.Problems[1].Option != "nope" {
		t.Fatalf("problems %+v", ib.Problems)
	}
	if rev() != values || a.l.Options("sales").Settings.AsyncIdleAlert != 45*time.Second {
		t.Fatal("a refused change was stored or applied")
	}
	if r := call(t, srv, "PUT", Prefix+"/services/sales", token, `{"settings": {"message-alert": "`+strings.Repeat("x", MaxBody)+`"}}`); r.status != 413 {
		t.Fatalf("body over the limit: %d", r.status)
	}
	if r := call(t, srv, "GET", Prefix+"/services/bad%20name", token, ""); r.status != 404 {
		t.Fatalf("bad service name: %d", r.status)
	}
	if r := call(t, srv, "POST", Prefix+"/services/sales", token, "{}"); r.status != 405 {
		t.Fatalf("POST: %d", r.status)
	}

	// SIGHUP: the file changes below the overrides, which stay.
	if err := b.l.ReloadFile(config.ChatOptions{"sales": {"settings": {"async-idle-alert": "20", "async-idle-close": "10"}}}); err != nil {
		t.Fatal(err)
	}
	if s := b.l.Options("sales").Settings; s.AsyncIdleAlert != 45*time.Second || s.AsyncIdleClose != 10*time.Second {
		t.Fatalf("after a reload: alert %v close %v (override 45 s stays, file close 10 s)", s.AsyncIdleAlert, s.AsyncIdleClose)
	}

	// A node started later reads the overrides.
	c := openNode(t, conn, file)
	if c.l.Options("sales").Settings.AsyncIdleAlert != 45*time.Second || c.l.Routing().Services["sales"].Queue != "vip" {
		t.Fatal("a new node did not read the overrides")
	}

	// The service list.
	var list struct{ Services []ServiceInfo }
	if r := call(t, srv, "GET", Prefix+"/services", token, ""); r.status != 200 || json.Unmarshal(r.body, &list) != nil {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if len(list.Services) != 2 || list.Services[0] != (ServiceInfo{Name: "sales", InFile: true, Overrides: 3}) || list.Services[1] != (ServiceInfo{Name: "support", Configured: true}) {
		t.Fatalf("services %+v", list.Services)
	}

	// DELETE: back to the file's value, on every node.
	before = c.changes.Load()
	v = call(t, srv, "DELETE", Prefix+"/services/sales", token, "").view(t)
	if got := v.Sections["settings"]["async-idle-alert"]; got != (Value{Value: "30", Source: SourceFile, From: "chat.sales"}) || len(v.Overrides) != 0 {
		t.Fatalf("after DELETE %+v %+v", got, v.Overrides)
	}
	testwait.Until(t, 10*time.Second, "node c applies the delete", func() bool { return c.changes.Load() > before })
	if c.l.Options("sales").Settings.AsyncIdleAlert != 30*time.Second || c.l.Routing().Services["sales"].Queue != "sales-q" {
		t.Fatal("node c kept the dropped override")
	}
	if r := call(t, srv, "DELETE", Prefix+"/services/sales", token, ""); r.status != 200 {
		t.Fatalf("second DELETE: %d", r.status)
	}
}
