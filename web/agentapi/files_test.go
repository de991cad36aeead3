package agentapi

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/gmschat"
)

// uploadFile posts a multipart upload as who and returns the status and the JSON answer.
func (f *fixture) uploadFile(who, chatID, name, contentType string, data []byte) (int, map[string]any) {
	f.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+name+`"`)
	h.Set("Content-Type", contentType)
	pw, err := mw.CreatePart(h)
	if err != nil {
		f.t.Fatal(err)
	}
	_, _ = pw.Write(data)
	_ = mw.WriteField("description", "for you")
	_ = mw.Close()
	req, _ := http.NewRequest("POST", f.srv.URL+Prefix+"/chats/"+chatID+"/files", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if tok := f.tok[who]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// get fetches url with an optional bearer token and returns the response with its body read.
func getFile(t *testing.T, method, u, token, contentType string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, u, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func checkInert(t *testing.T, resp *http.Response, wantName string) {
	t.Helper()
	h := resp.Header
	if h.Get("Content-Type") != "application/octet-stream" || h.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(h.Get("Content-Security-Policy"), "sandbox") || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") ||
		!strings.Contains(h.Get("Content-Disposition"), wantName) {
		t.Fatalf("download headers not inert: %v", h)
	}
}

// TestAgentFileUploadReachesCustomer: an agent uploads over the agent API, the customer sees
// the FileUploaded event and downloads the same bytes over the GMS REST API; the claimed
// active type (text/html) is served as an inert attachment on both sides.
func TestAgentFileUploadReachesCustomer(t *testing.T) {
	f := newFixture(t, "none")
	cr := f.newChat(nil)
	id := cr.ChatID
	f.act("ann", id, "join", nil, 200)
	content := []byte("<script>alert(1)</script> hello customer")
	code, m := f.uploadFile("ann", id, "notes.txt", "text/html", content)
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %v", code, m)
	}
	fileID, _ := m["fileId"].(string)
	if fileID == "" || len(m["events"].([]any)) != 1 {
		t.Fatalf("upload answer: %v", m)
	}

	// The customer's transcript carries the file.
	page, err := f.core.EventsPage(t.Context(), id, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, e := range chatcore.VisibleEvents(page.Events, chatcore.Client) {
		if e.Type == chatcore.EventFileUploaded && e.UserData[chatcore.KeyFileID] == fileID && e.UserData[chatcore.KeyFileDescription] == "for you" {
			seen = true
		}
	}
	if !seen {
		t.Fatalf("the customer does not see the agent's file %s", fileID)
	}

	// The customer downloads it through web/gmschat over the same core.
	mux := http.NewServeMux()
	gmschat.NewAdapter(&gmschat.CoreBackend{Core: f.core}, nil, gmschat.Options{}).Register(mux)
	gms := httptest.NewServer(mux)
	defer gms.Close()
	form := url.Values{"secureKey": {cr.SecureKey}, "userId": {cr.UserID}}.Encode()
	resp, got := getFile(t, "POST", gms.URL+"/genesys/2/chat/support/"+id+"/file/"+fileID+"/download", "", "application/x-www-form-urlencoded", strings.NewReader(form))
	if resp.StatusCode != 200 || !bytes.Equal(got, content) {
		t.Fatalf("customer download: %d %q", resp.StatusCode, got)
	}
	checkInert(t, resp, "notes.txt")

	// The agent downloads it too, served by the same rule.
	resp, got = getFile(t, "GET", f.srv.URL+Prefix+"/chats/"+id+"/files/"+fileID, f.tok["ann"], "", nil)
	if resp.StatusCode != 200 || !bytes.Equal(got, content) {
		t.Fatalf("agent download: %d %q", resp.StatusCode, got)
	}
	checkInert(t, resp, "notes.txt")

	// A passive type keeps its type.
	code, m = f.uploadFile("ann", id, "pic.png", "image/png", []byte("\x89PNG"))
	if code != http.StatusCreated {
		t.Fatalf("png upload: %d %v", code, m)
	}
	resp, _ = getFile(t, "GET", f.srv.URL+Prefix+"/chats/"+id+"/files/"+m["fileId"].(string), f.tok["ann"], "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("png download: %d %v", resp.StatusCode, resp.Header)
	}

	// Unknown file: 404.
	resp, _ = getFile(t, "GET", f.srv.URL+Prefix+"/chats/"+id+"/files/nosuchfile", f.tok["ann"], "", nil)
	if resp.StatusCode != 404 {
		t.Fatalf("unknown file: %d", resp.StatusCode)
	}
}

// TestAgentFileRefusals: wrong type and oversize answer the server's message; a stranger,
// no token and an unknown chat are refused; a monitoring supervisor may not upload; none of
// it changes the chat.
func TestAgentFileRefusals(t *testing.T) {
	f := newFixture(t, "none")
	cr := f.newChat(nil)
	id := cr.ChatID
	f.act("ann", id, "join", nil, 200)
	code, m := f.uploadFile("ann", id, "ok.txt", "text/plain", []byte("fine"))
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %v", code, m)
	}
	fileID := m["fileId"].(string)

	cases := []struct {
		name, who, chat, file string
		size                  int
		want                  int
		msg                   string
	}{
		{"wrong type", "ann", id, "tool.exe", 10, http.StatusUnsupportedMediaType, `file type "exe"`},
		{"oversize", "ann", id, "big.txt", DefaultMaxUpload + 1, http.StatusRequestEntityTooLarge, "larger than 2097152 bytes"},
		{"stranger agent", "carl", id, "a.txt", 10, http.StatusForbidden, "not yours"},
		{"no token", "nobody", id, "a.txt", 10, http.StatusUnauthorized, ""},
		{"unknown chat", "ann", "NoSuchChat123456", "a.txt", 10, http.StatusNotFound, ""},
		{"monitoring supervisor", "sue", id, "a.txt", 10, http.StatusConflict, "barge in first"},
	}
	f.act("sue", id, "join", nil, 200) // monitor (VIP) by default
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.t = t
			f.unchanged(id, func() {
				code, m := f.uploadFile(c.who, c.chat, c.file, "text/plain", bytes.Repeat([]byte("x"), c.size))
				if code != c.want {
					t.Fatalf("%d %v, want %d", code, m, c.want)
				}
				if msg, _ := m["error"].(string); !strings.Contains(msg, c.msg) {
					t.Fatalf("error %q lacks %q", msg, c.msg)
				}
			})
		})
	}
	f.t = t
	// Downloads: a stranger and no token are refused.
	for who, want := range map[string]int{"carl": 403, "bob": 403, "": 401} {
		resp, _ := getFile(t, "GET", f.srv.URL+Prefix+"/chats/"+id+"/files/"+fileID, f.tok[who], "", nil)
		if resp.StatusCode != want {
			t.Fatalf("download by %q: %d, want %d", who, resp.StatusCode, want)
		}
	}
	// A non-multipart body is refused.
	resp, _ := getFile(t, "POST", f.srv.URL+Prefix+"/chats/"+id+"/files", f.tok["ann"], "application/json", strings.NewReader("{}"))
	if resp.StatusCode != 400 {
		t.Fatalf("json upload: %d", resp.StatusCode)
	}
}

// FuzzUploadParse: an untrusted upload body is read or refused without panicking, and what
// is read respects the bounds (one file within MaxUpload, a description within MaxBody).
func FuzzUploadParse(f *testing.F) {
	const boundary = "XyZ"
	ct := "multipart/form-data; boundary=" + boundary
	f.Add(ct, []byte("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n"))
	f.Add(ct, []byte("--XyZ\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nd\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../x.png\"\r\n\r\n\x89PNG\r\n--XyZ--\r\n"))
	f.Add(ct, []byte("--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n2\r\n--XyZ--\r\n"))
	f.Add("application/json", []byte("{}"))
	f.Add(ct, []byte("--XyZ\r\n\r\n"))
	a := &API{cfg: Config{MaxUpload: 64, MaxBody: 32}}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest("POST", "/chats/c/files", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		up, err := a.readUpload(r)
		if err != nil {
			return
		}
		if !up.Screen || int64(len(up.Data)) > a.cfg.MaxUpload || int64(len(up.Description)) > a.cfg.MaxBody {
			t.Fatalf("read beyond the bounds or unscreened: %d bytes, description %d", len(up.Data), len(up.Description))
		}
	})
}
