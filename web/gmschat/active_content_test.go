package gmschat

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
)

// TestPushURLOnlyWeb is issue 7 item 11 (pushUrl): agents click pushed URLs, so only absolute
// http(s) URLs are accepted, over REST and CometD; the rest is 400 code 102 and not stored.
func TestPushURLOnlyWeb(t *testing.T) {
	r := startRig(t, Options{})
	chat := r.createChat("Ann")
	for _, bad := range []string{
		"javascript:alert(document.cookie)",
		"JavaScript:alert(1)",
		" javascript:alert(1)",
		"java\tscript:alert(1)",
		"data:text/html,<script>alert(1)</script>",
		"vbscript:msgbox(1)",
		"file:///etc/passwd",
		"//evil.example/x",
		"https:evil.example",
		"http://",
		"/relative/path",
		"ftp://files.example/x",
	} {
		a := r.mustPost(chat.path("pushUrl"), "", chat.cred()+"&pushUrl="+url.QueryEscape(bad))
		if a.status != 400 || a.errCode() != CodeInvalidField || !strings.Contains(a.str("advice")+string(a.raw), "http or https") {
			t.Errorf("pushUrl %q: HTTP %d %s, want 400 code 102", bad, a.status, a.raw)
		}
	}
	const good = "https://shop.example/orders/42?x=1#top"
	if a := r.mustPost(chat.path("pushUrl"), "", chat.cred()+"&pushUrl="+url.QueryEscape(good)); a.status != 200 {
		t.Fatalf("pushUrl %q: %d %s", good, a.status, a.raw)
	}
	if a := r.mustPost(chat.path("pushUrl"), "", chat.cred()+"&pushUrl="+url.QueryEscape("HTTP://Shop.Example/")); a.status != 200 {
		t.Fatalf("upper-case scheme: %d %s", a.status, a.raw)
	}

	c := r.comet()
	c.handshake()
	if _, err := c.publish(map[string]any{"operation": "pushUrl", "secureKey": chat.secureKey, "pushUrl": "javascript:alert(1)"}); err != nil {
		t.Fatal(err)
	}
	p := c.awaitPush(func(map[string]any) bool { return true })
	if p["statusCode"] != float64(2) || !strings.Contains(string(mustJSON(t, p)), `"code":102`) {
		t.Fatalf("CometD pushUrl javascript: answered %v", p)
	}

	a := r.mustPost(chat.path("refresh"), "", chat.cred())
	var urls []string
	for _, m := range a.messages() {
		if m["type"] == "PushUrl" {
			urls = append(urls, fmt.Sprint(m["text"]))
		}
	}
	if len(urls) != 2 || urls[0] != good {
		t.Fatalf("pushed URLs in the transcript: %q", urls)
	}
}

// TestActiveUploadServedInert is issue 7 item 11 (files): whatever Content-Type the uploader
// claimed, a download that a browser could run (HTML, SVG, XML, JavaScript) is served as
// application/octet-stream, as an attachment, with nosniff and a sandboxing CSP. Passive
// types keep their type.
func TestActiveUploadServedInert(t *testing.T) {
	r := startRig(t, Options{})
	chat := r.createChat("Ann")
	cases := []struct{ name, claimed, want string }{
		{"page.txt", "text/html", "application/octet-stream"},
		{"page2.txt", "text/html; charset=utf-8", "application/octet-stream"},
		{"pic.png", "image/svg+xml", "application/octet-stream"},
		{"doc.pdf", "text/xml", "application/octet-stream"},
		{"a.txt", "application/javascript", "application/octet-stream"},
		{"b.txt", "application/xhtml+xml", "application/octet-stream"},
		{"c.txt", "", "application/octet-stream"},
		{"d.txt", "not a type", "application/octet-stream"},
		{"real.png", "image/png", "image/png"},
		{"notes.txt", "text/plain; charset=utf-8", "text/plain"},
	}
	// upload-max-files defaults to 3: more files per chat need more chats.
	for i, c := range cases {
		if i%3 == 0 && i > 0 {
			chat = r.createChat(fmt.Sprint("Ann", i))
		}
		body := "<script>alert(document.domain)</script><svg onload=alert(1)>"
		id := r.upload(chat, c.name, c.claimed, body)
		req, _ := http.NewRequest(http.MethodPost, r.url+chat.path("file/"+id+"/download"), strings.NewReader(chat.cred()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := r.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		h := res.Header
		if res.StatusCode != 200 || string(got) != body {
			t.Fatalf("%s: download %d %q", c.name, res.StatusCode, got)
		}
		if ct := h.Get("Content-Type"); ct != c.want {
			t.Errorf("%s uploaded as %q: served as %q, want %q", c.name, c.claimed, ct, c.want)
		}
		if !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") || h.Get("X-Content-Type-Options") != "nosniff" ||
			!strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("%s: headers %v", c.name, h)
		}
	}
}

// upload sends a REST file upload as a browser's multipart form and returns the file-id.
func (r *rig) upload(chat restChat, name, contentType, data string) string {
	r.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("secureKey", chat.secureKey)
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	if contentType != "" {
		hdr.Set("Content-Type", contentType)
	}
	pw, err := mw.CreatePart(hdr)
	if err != nil {
		r.t.Fatal(err)
	}
	_, _ = io.WriteString(pw, data)
	_ = mw.Close()
	a := r.mustPost(chat.path("file"), mw.FormDataContentType(), buf.String())
	ud, _ := a.body["userData"].(map[string]any)
	id, _ := ud["file-id"].(string)
	if a.status != 200 || id == "" {
		r.t.Fatalf("upload %s: %d %s", name, a.status, a.raw)
	}
	return id
}
