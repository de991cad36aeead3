package gmschat

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func codeOf(t *testing.T, err error) Code {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *APIError", err)
	}
	return ae.Code
}

func formRequest(ct, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/genesys/2/chat/svc", strings.NewReader(body))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	return r
}

func TestDecodeURLEncoded(t *testing.T) {
	body := "nickname=Ann+Lee&subject=hello%20there&userData%5BTimeZone%5D=-480&userData[push_notification_type]=fcm&nickname=second&userData[TimeZone]=0&transcriptPosition=3"
	req, err := DecodeForm(formRequest("application/x-www-form-urlencoded; charset=UTF-8", body), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Value("nickname"); got != "Ann Lee" {
		t.Errorf("nickname = %q (first occurrence must win)", got)
	}
	if got := req.Value("subject"); got != "hello there" {
		t.Errorf("subject = %q", got)
	}
	if got := req.UserData["TimeZone"]; got != "-480" {
		t.Errorf("userData[TimeZone] = %q", got)
	}
	if got := req.UserData["push_notification_type"]; got != "fcm" {
		t.Errorf("userData[push_notification_type] = %q", got)
	}
	if _, ok := req.Fields["userData[TimeZone]"]; ok {
		t.Error("bracket field leaked into Fields")
	}
	if p, err := req.Position(); err != nil || p != 3 {
		t.Errorf("Position = %d, %v", p, err)
	}
}

func TestDecodeFormErrors(t *testing.T) {
	lim := Limits{MaxBodyBytes: 200, MaxFields: 4, MaxValueBytes: 20}
	cases := []struct {
		name, ct, body string
		want           Code
	}{
		{"wrong content type", "text/plain", "a=b", CodeUnsupportedMedia},
		{"unparsable content type", "a/b; =", "a=b", CodeUnsupportedMedia},
		{"body without content type", "", "a=b", CodeUnsupportedMedia},
		{"bad escape", "application/x-www-form-urlencoded", "a=%zz", CodeMalformed},
		{"too many fields", "application/x-www-form-urlencoded", "a=1&b=2&c=3&d=4&e=5", CodeMalformed},
		{"value too large", "application/x-www-form-urlencoded", "message=" + strings.Repeat("x", 21), CodeMessageTooLarge},
		{"body too large", "application/x-www-form-urlencoded", "a=" + strings.Repeat("x", 250), CodeBodyTooLarge},
		{"invalid utf-8", "application/x-www-form-urlencoded", "message=%ff%fe", CodeMalformed},
		{"NUL", "application/x-www-form-urlencoded", "message=a%00b", CodeMalformed},
		{"empty userData key", "application/x-www-form-urlencoded", "userData[]=x", CodeInvalidField},
		{"multipart without boundary", "multipart/form-data", "x", CodeMalformed},
		{"json array", "application/json", "[1]", CodeMalformed},
		{"json trailing", "application/json", `{"a":"b"} {}`, CodeMalformed},
		{"json userData not object", "application/json", `{"userData":"x"}`, CodeInvalidField},
		{"json userData nested", "application/json", `{"userData":{"a":{"b":1}}}`, CodeInvalidField},
		{"json invalid utf-8", "application/json", "{\"message\":\"a\xff\xfeb\"}", CodeMalformed},
		{"json invalid utf-8 in a key", "application/json", "{\"mess\xc3age\":\"a\"}", CodeMalformed},
		{"json lone high surrogate", "application/json", `{"message":"a\ud800b"}`, CodeMalformed},
		{"json high surrogate at the end", "application/json", `{"message":"\uD83D"}`, CodeMalformed},
		{"json lone low surrogate", "application/json", `{"message":"\udc00"}`, CodeMalformed},
		{"json two high surrogates", "application/json", `{"message":"\ud83d\ud83d"}`, CodeMalformed},
		{"json surrogate in userData", "application/json", `{"userData":{"k":"\udfff"}}`, CodeMalformed},
		{"json surrogate in a key", "application/json", `{"userData":{"\ud800":"v"}}`, CodeMalformed},
		{"json NUL escape", "application/json", `{"message":"a\u0000"}`, CodeMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeForm(formRequest(c.ct, c.body), lim)
			if err == nil {
				t.Fatal("no error")
			}
			if got := codeOf(t, err); got != c.want {
				t.Fatalf("code = %d, want %d (%v)", got, c.want, err)
			}
		})
	}
}

func TestDecodeFormEmptyBodyWithoutContentType(t *testing.T) {
	req, err := DecodeForm(formRequest("", ""), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Fields) != 0 || len(req.UserData) != 0 || req.File != nil {
		t.Fatalf("non-empty request %+v", req)
	}
}

func TestDecodeFormJSONBody(t *testing.T) {
	body := `{"nickname":"Bo","transcriptPosition":7,"flag":true,"auth":{"encoded":"x"},"skip":null,"userData":{"GCTI_Chat_AsyncMode":"true","n":5,"gone":null}}`
	req, err := DecodeForm(formRequest("application/json", body), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if req.Value("nickname") != "Bo" || req.Value("transcriptPosition") != "7" || req.Value("flag") != "true" {
		t.Fatalf("fields %v", req.Fields)
	}
	if _, ok := req.Get("auth"); ok {
		t.Error("object field must be ignored")
	}
	if _, ok := req.Get("skip"); ok {
		t.Error("null field must be absent")
	}
	if req.UserData["GCTI_Chat_AsyncMode"] != "true" || req.UserData["n"] != "5" {
		t.Fatalf("userData %v", req.UserData)
	}
	if _, ok := req.UserData["gone"]; ok {
		t.Error("null userData value must be absent")
	}
}

// TestDecodeDataValidEscapes checks that the surrogate check refuses nothing valid: a pair,
// escaped backslashes and quotes before a u, and real UTF-8.
func TestDecodeDataValidEscapes(t *testing.T) {
	cases := map[string]string{
		`{"message":"\ud83d\ude00"}`:       "\U0001F600",
		`{"message":"\\ud800"}`:            `\ud800`,
		`{"message":"\"\\\u00e9"}`:         `"\é`,
		`{"message":"grüße 😀"}`:            "grüße 😀",
		`{"message":"\uFFFD is U+FFFD"}`:   "\uFFFD is U+FFFD",
		`{"ud800":"x","message":"\u0041"}`: "A",
	}
	for raw, want := range cases {
		req, err := DecodeData([]byte(raw), Limits{})
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if got := req.Value("message"); got != want {
			t.Errorf("%s: message %q, want %q", raw, got, want)
		}
	}
}

func multipartBody(t *testing.T, fields map[string]string, fileName string, file []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if file != nil {
		fw, err := mw.CreateFormFile("file", fileName)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(file); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

func TestDecodeMultipart(t *testing.T) {
	ct, body := multipartBody(t, map[string]string{
		"secureKey": "k", "operation": "fileUpload", "userData[file-description]": "a cat",
	}, `C:\fakepath\cat.png`, []byte("PNGDATA"))
	req, err := DecodeForm(formRequest(ct, string(body)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if req.Value("secureKey") != "k" || req.Value("operation") != "fileUpload" {
		t.Fatalf("fields %v", req.Fields)
	}
	if req.UserData["file-description"] != "a cat" {
		t.Fatalf("userData %v", req.UserData)
	}
	if req.File == nil || req.File.Name != "cat.png" || string(req.File.Data) != "PNGDATA" {
		t.Fatalf("file %+v", req.File)
	}
}

func TestDecodeMultipartLimits(t *testing.T) {
	lim := Limits{MaxFileBytes: 10, MaxValueBytes: 8}
	ct, body := multipartBody(t, map[string]string{"secureKey": "k"}, "a.txt", bytes.Repeat([]byte("x"), 11))
	if _, err := DecodeForm(formRequest(ct, string(body)), lim); codeOf(t, err) != CodeFileTooLarge {
		t.Fatalf("oversize file: %v", err)
	}
	ct, body = multipartBody(t, map[string]string{"secureKey": "k"}, "a.txt", bytes.Repeat([]byte("x"), 10))
	if req, err := DecodeForm(formRequest(ct, string(body)), lim); err != nil || len(req.File.Data) != 10 {
		t.Fatalf("file at the limit: %v", err)
	}
	ct, body = multipartBody(t, map[string]string{"message": "123456789"}, "", nil)
	if _, err := DecodeForm(formRequest(ct, string(body)), lim); codeOf(t, err) != CodeMessageTooLarge {
		t.Fatalf("oversize field: %v", err)
	}
	// Two files.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for range 2 {
		fw, _ := mw.CreateFormFile("file", "a.txt")
		_, _ = fw.Write([]byte("x"))
	}
	_ = mw.Close()
	if _, err := DecodeForm(formRequest(mw.FormDataContentType(), buf.String()), lim); codeOf(t, err) != CodeInvalidField {
		t.Fatalf("two files: %v", err)
	}
	// Truncated body.
	ct, body = multipartBody(t, map[string]string{"a": "b"}, "", nil)
	if _, err := DecodeForm(formRequest(ct, string(body[:len(body)-10])), lim); codeOf(t, err) != CodeMalformed {
		t.Fatalf("truncated: %v", err)
	}
}

func TestParsePosition(t *testing.T) {
	cases := []struct {
		in      string
		present bool
		want    int64
		bad     bool
	}{
		{"", false, PositionAll, false},
		{"", true, PositionAll, false},
		{"0", true, PositionNone, false},
		{"1", true, 1, false},
		{" 42 ", true, 42, false},
		{"-1", true, -1, false},
		{" -25 ", true, -25, false},
		{"-0", true, 0, false},
		{"--1", true, 0, true},
		{"-+1", true, 0, true},
		{"-", true, 0, true},
		{"-9007199254740993", true, 0, true},
		{"+3", true, 0, true},
		{"1.5", true, 0, true},
		{"abc", true, 0, true},
		{"9007199254740993", true, 0, true},
	}
	for _, c := range cases {
		got, err := ParsePosition(c.in, c.present)
		if c.bad {
			if err == nil || codeOf(t, err) != CodeInvalidField {
				t.Errorf("%q: want CodeInvalidField, got %d, %v", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: got %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

func TestResponseJSON(t *testing.T) {
	b, err := json.Marshal(OK("c1", "u1", "node1", false, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"statusCode":0,"chatId":"c1","userId":"u1","alias":"node1","chatEnded":false,"nextPosition":1,"messages":[]}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	ev := Event{From: From{Nickname: "Ann", ParticipantID: 1, Type: "Client"}, Index: 1, Type: "ParticipantJoined", UTCTime: 1432845088000}
	r := OK("c1", "u1", "node1", false, 2, []Event{ev})
	r.SecureKey = "sk"
	b, _ = json.Marshal(r)
	want = `{"statusCode":0,"chatId":"c1","userId":"u1","secureKey":"sk","alias":"node1","chatEnded":false,"nextPosition":2,"messages":[{"from":{"nickname":"Ann","participantId":1,"type":"Client"},"index":1,"type":"ParticipantJoined","utcTime":1432845088000}]}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(Ended("c1"))
	if string(b) != `{"statusCode":2,"chatId":"c1","chatEnded":true}` {
		t.Fatalf("ended: %s", b)
	}
}

func TestFailure(t *testing.T) {
	b, _ := json.Marshal(Failure(Errorf(CodeForbidden, "unknown chat or wrong credentials"), ""))
	if string(b) != `{"statusCode":2,"chatEnded":false,"errors":[{"code":201,"advice":"unknown chat or wrong credentials"}]}` {
		t.Fatalf("fatal failure: %s", b)
	}
	b, _ = json.Marshal(Failure(Errorf(CodeUnavailable, "retry"), "c1"))
	if string(b) != `{"statusCode":1,"chatId":"c1","chatEnded":false,"errors":[{"code":600,"advice":"retry"}]}` {
		t.Fatalf("transient failure: %s", b)
	}
	b, _ = json.Marshal(Failure(errors.New("db password wrong"), ""))
	if strings.Contains(string(b), "password") || !strings.Contains(string(b), `"code":700`) {
		t.Fatalf("internal failure: %s", b)
	}
}

func TestWriteError(t *testing.T) {
	for code, status := range httpStatus {
		rec := httptest.NewRecorder()
		WriteError(rec, Errorf(code, "advice %d", code))
		if rec.Code != status {
			t.Errorf("code %d: HTTP %d, want %d", code, rec.Code, status)
		}
		var body ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Code != code {
			t.Errorf("code %d: body %s", code, rec.Body.String())
		}
	}
	rec := httptest.NewRecorder()
	WriteError(rec, errors.New("secret internal detail"))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "secret") {
		t.Fatalf("internal error leaked: %d %s", rec.Code, rec.Body.String())
	}
}

func TestDisconnectPosition(t *testing.T) {
	cases := []struct {
		ext  string
		want int64
		ok   bool
	}{
		{``, 0, false},
		{`{}`, 0, false},
		{`{"transcriptPosition":"12"}`, 12, true},
		{`{"transcriptPosition":12}`, 12, true},
		{`{"transcriptPosition":"x"}`, 0, false},
		{`{"transcriptPosition":{}}`, 0, false},
		{`{"transcriptPosition":"-1"}`, 0, false},
		{`[1]`, 0, false},
	}
	for _, c := range cases {
		got, ok := DisconnectPosition([]byte(c.ext))
		if got != c.want || ok != c.ok {
			t.Errorf("%s: got %d %v, want %d %v", c.ext, got, ok, c.want, c.ok)
		}
	}
}
