package gmschat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/bayeux"
	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/jetstore"
	"github.com/chatgate/chatgate/internal/natsserver"
)

// rig is the GMS side of the binary on loopback, wired as cmd/chatgate/chat.go wires it: the
// real chat core on embedded NATS JetStream, a real bayeux.Server at /genesys/cometd, the
// adapter as the core's event listener and the Bayeux service handler, all behind one
// httptest server. Clients talk to it over real sockets.
type rig struct {
	t       testing.TB
	url     string
	core    *chatcore.Core
	bx      *bayeux.Server
	adapter *Adapter
	http    *http.Client
}

const rigService = "customer-support"

func startRig(t testing.TB, o Options) *rig { return startRigLimits(t, o, chatcore.Limits{}) }

// startRigLimits is startRig with the chat core's limits (page size, event rate) set.
func startRigLimits(t testing.TB, o Options, lim chatcore.Limits) *rig {
	t.Helper()
	ctx := t.Context()
	nc, err := natsserver.Start(ctx, natsserver.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close(context.Background()) })
	store, err := jetstore.Open(ctx, nc, jetstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bx, err := bayeux.NewServer(bayeux.Config{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	backend := &CoreBackend{}
	adapter := NewAdapter(backend, bx, o)
	core, err := chatcore.New(ctx, chatcore.Config{Store: store, NodeName: "node-1", DeferTimers: true, Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	backend.Core = core
	lctx := context.WithoutCancel(ctx)
	core.AddListener(chatcore.ListenerFuncs{Event: func(v chatcore.ChatView, ev chatcore.Event) {
		adapter.OnEvent(lctx, v.ID, v.Alias, v.Ended, WireEvent(ev))
	}})
	bx.HandleService(ServicePattern, func(ctx context.Context, req *bayeux.ServiceRequest) error {
		adapter.HandleComet(ctx, req.Session.ID, req.Channel, req.Data)
		return nil
	})
	bx.OnConnect(func(ctx context.Context, info bayeux.SessionInfo) { adapter.Touch(ctx, info.ID) })
	bx.OnSessionRemoved(func(info bayeux.SessionInfo, _ bayeux.RemoveReason, ext json.RawMessage) {
		adapter.SessionRemoved(info.ID, ext)
	})
	core.StartTimers()
	mux := http.NewServeMux()
	adapter.Register(mux)
	mux.Handle("/genesys/cometd", bx)
	mux.Handle("/genesys/cometd/", bx)
	srv := httptest.NewServer(mux)
	// Cleanups run last-in first-out: HTTP first, then Bayeux, then the core, then NATS.
	t.Cleanup(core.Close)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = bx.Shutdown(sctx)
	})
	t.Cleanup(srv.Close)
	return &rig{t: t, url: srv.URL, core: core, bx: bx, adapter: adapter,
		http: &http.Client{Timeout: 10 * time.Second}}
}

// restAnswer is one REST answer: HTTP status and the decoded body.
type restAnswer struct {
	status int
	body   map[string]any
	raw    []byte
	header http.Header
}

func (a restAnswer) str(k string) string { s, _ := a.body[k].(string); return s }

// errCode is errors[0].code, or 0.
func (a restAnswer) errCode() Code {
	errs, _ := a.body["errors"].([]any)
	if len(errs) == 0 {
		return 0
	}
	m, _ := errs[0].(map[string]any)
	f, _ := m["code"].(float64)
	return Code(f)
}

func (a restAnswer) messages() []map[string]any {
	ms, _ := a.body["messages"].([]any)
	out := make([]map[string]any, 0, len(ms))
	for _, m := range ms {
		mm, _ := m.(map[string]any)
		out = append(out, mm)
	}
	return out
}

// post sends a REST request as the widgets do: a form POST (ct "" = urlencoded).
func (r *rig) post(path, ct, body string) (restAnswer, error) {
	if ct == "" {
		ct = "application/x-www-form-urlencoded; charset=UTF-8"
	}
	req, err := http.NewRequest(http.MethodPost, r.url+path, strings.NewReader(body))
	if err != nil {
		return restAnswer{}, err
	}
	req.Header.Set("Content-Type", ct)
	res, err := r.http.Do(req)
	if err != nil {
		return restAnswer{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return restAnswer{}, err
	}
	a := restAnswer{status: res.StatusCode, raw: raw, header: res.Header}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			return a, fmt.Errorf("answer %q: %w", raw, err)
		}
	}
	return a, nil
}

func (r *rig) mustPost(path, ct, body string) restAnswer {
	r.t.Helper()
	a, err := r.post(path, ct, body)
	if err != nil {
		r.t.Fatalf("POST %s: %v", path, err)
	}
	return a
}

// restChat is a chat created over REST, with its credentials.
type restChat struct {
	id, userID, secureKey, alias string
}

func (r *rig) createChat(nickname string) restChat {
	r.t.Helper()
	a := r.mustPost(RESTPrefix+rigService, "", "nickname="+url.QueryEscape(nickname)+"&subject=help")
	if a.status != 200 || a.str("secureKey") == "" {
		r.t.Fatalf("create: %d %s", a.status, a.raw)
	}
	return restChat{id: a.str("chatId"), userID: a.str("userId"), secureKey: a.str("secureKey"), alias: a.str("alias")}
}

func (c restChat) path(op string) string { return RESTPrefix + rigService + "/" + c.id + "/" + op }

func (c restChat) cred() string { return "secureKey=" + url.QueryEscape(c.secureKey) }

// cometClient is a minimal Bayeux long-polling client over real HTTP (what the cometd JS
// client sends on the wire), with a cookie jar for BAYEUX_BROWSER.
type cometClient struct {
	t        testing.TB
	endpoint string
	http     *http.Client
	id       string // set by handshake, before any concurrent use
	seq      atomic.Int64
	pending  []map[string]any // pushes received and not yet looked at (one goroutine only)
}

type bayeuxMsg struct {
	Channel    string          `json:"channel"`
	ClientID   string          `json:"clientId,omitempty"`
	Successful *bool           `json:"successful,omitempty"`
	Error      string          `json:"error,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
}

func (r *rig) comet() *cometClient {
	jar, _ := cookiejar.New(nil)
	return &cometClient{t: r.t, endpoint: r.url + "/genesys/cometd", http: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// send posts one batch and returns the replies.
func (c *cometClient) send(msgs ...map[string]any) ([]bayeuxMsg, error) {
	for _, m := range msgs {
		m["id"] = fmt.Sprint(c.seq.Add(1))
		if c.id != "" && m["channel"] != "/meta/handshake" {
			m["clientId"] = c.id
		}
	}
	body, err := json.Marshal(msgs)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("bayeux HTTP %d: %s", res.StatusCode, raw)
	}
	var out []bayeuxMsg
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("bayeux reply %q: %w", raw, err)
	}
	return out, nil
}

func (c *cometClient) handshake() {
	c.t.Helper()
	out, err := c.send(map[string]any{"channel": "/meta/handshake", "version": "1.0",
		"supportedConnectionTypes": []string{"long-polling"}})
	if err != nil || len(out) == 0 || out[0].Successful == nil || !*out[0].Successful {
		c.t.Fatalf("handshake: %v %+v", err, out)
	}
	c.id = out[0].ClientID
}

// publish sends one chatV2 operation (data as the Genesys widgets build it).
func (c *cometClient) publish(data map[string]any) ([]bayeuxMsg, error) {
	return c.publishTo(rigService, data)
}

func (c *cometClient) publishTo(service string, data map[string]any) ([]bayeuxMsg, error) {
	return c.send(map[string]any{"channel": ChannelPrefix + service, "data": data})
}

// connect sends one /meta/connect and returns what it delivered (held until data arrives or
// the Bayeux timeout passes).
func (c *cometClient) connect() ([]bayeuxMsg, error) {
	return c.send(map[string]any{"channel": "/meta/connect", "connectionType": "long-polling"})
}

// chatPushes are the chatV2 deliveries among msgs, decoded.
func chatPushes(msgs []bayeuxMsg) []map[string]any {
	var out []map[string]any
	for _, m := range msgs {
		if strings.HasPrefix(m.Channel, ChannelPrefix) && len(m.Data) > 0 {
			var d map[string]any
			if json.Unmarshal(m.Data, &d) == nil {
				out = append(out, d)
			}
		}
	}
	return out
}

// pushesUntil returns every chatV2 push received up to and including the first one satisfying
// ok, connecting as needed (bounded by a deadline). Pushes after it in the same reply are kept
// for the next call.
func (c *cometClient) pushesUntil(ok func(map[string]any) bool) []map[string]any {
	c.t.Helper()
	var got []map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for {
		for len(c.pending) > 0 {
			p := c.pending[0]
			c.pending = c.pending[1:]
			got = append(got, p)
			if ok(p) {
				return got
			}
		}
		if !time.Now().Before(deadline) {
			c.t.Fatal("no matching chatV2 push before the deadline")
		}
		out, err := c.connect()
		if err != nil {
			c.t.Fatalf("connect: %v", err)
		}
		c.pending = append(c.pending, chatPushes(out)...)
	}
}

// awaitPush returns the first chatV2 push satisfying ok (earlier ones are skipped).
func (c *cometClient) awaitPush(ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	got := c.pushesUntil(ok)
	return got[len(got)-1]
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawJSON is a data value sent on the wire exactly as written.
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }
