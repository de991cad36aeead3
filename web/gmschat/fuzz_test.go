package gmschat

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkDecoded asserts the invariants every decoder promises: either a known *APIError or a
// request whose contents respect the limits and are valid UTF-8 text.
func checkDecoded(t *testing.T, req *Request, err error, lim Limits) {
	t.Helper()
	lim = lim.withDefaults()
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("error is not an *APIError: %v", err)
		}
		if _, known := httpStatus[ae.Code]; !known || ae.Code == CodeInternal {
			t.Fatalf("decoder returned code %d", ae.Code)
		}
		return
	}
	if n := len(req.Fields) + len(req.UserData); n > lim.MaxFields {
		t.Fatalf("%d fields over the limit %d", n, lim.MaxFields)
	}
	for _, m := range []map[string]string{req.Fields, req.UserData} {
		for k, v := range m {
			if k == "" || len(k) > lim.MaxKeyBytes || len(v) > lim.MaxValueBytes {
				t.Fatalf("field %q (%d bytes) breaks the limits", k, len(v))
			}
			if !utf8.ValidString(k) || !utf8.ValidString(v) || strings.ContainsRune(k+v, 0) {
				t.Fatalf("field %q is not clean text", k)
			}
		}
	}
	if req.File != nil && int64(len(req.File.Data)) > lim.MaxFileBytes {
		t.Fatalf("file of %d bytes over the limit", len(req.File.Data))
	}
	if _, err := json.Marshal(req.UserData); err != nil {
		t.Fatalf("userData does not marshal: %v", err)
	}
}

// checkNoInventedReplacement asserts that a decoded JSON request holds U+FFFD only where the
// client sent it (raw, or as an escape): invalid UTF-8 and lone surrogates must be refused,
// never silently replaced (issue 7 item 10).
func checkNoInventedReplacement(t *testing.T, raw string, req *Request) {
	t.Helper()
	if req == nil || strings.Contains(raw, "\uFFFD") || strings.Contains(strings.ToLower(raw), `\ufffd`) {
		return
	}
	for _, m := range []map[string]string{req.Fields, req.UserData} {
		for k, v := range m {
			if strings.ContainsRune(k+v, utf8.RuneError) {
				t.Fatalf("field %q holds U+FFFD the client did not send", k)
			}
		}
	}
}

var fuzzLimits = Limits{MaxBodyBytes: 4096, MaxFields: 16, MaxKeyBytes: 64, MaxValueBytes: 512, MaxFileBytes: 1024}

// FuzzDecodeForm feeds a body with a Content-Type through DecodeForm (urlencoded, multipart
// with the given boundary, JSON).
func FuzzDecodeForm(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "nickname=Ann&userData%5BTimeZone%5D=-480&userData[a]=b&transcriptPosition=1")
	f.Add("application/x-www-form-urlencoded", "a=%zz&&=&userData[]=x")
	f.Add("multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"secureKey\"\r\n\r\nk\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"C:\\\\fakepath\\\\a.png\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n--XX--\r\n")
	f.Add("multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"userData[file-description]\"\r\n\r\nd\r\n--XX")
	f.Add("application/json", `{"nickname":"Bo","userData":{"k":"v","n":1},"transcriptPosition":3}`)
	f.Add("application/json", `{"secureKey":"k","message":"a\ud800b"}`)
	f.Add("application/json; charset=utf-8", "{\"secureKey\":\"k\",\"message\":\"\xff\"}")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, ct, body string) {
		r, err := http.NewRequest(http.MethodPost, "/genesys/2/chat/svc", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		req, err := DecodeForm(r, fuzzLimits)
		checkDecoded(t, req, err, fuzzLimits)
		if err == nil && strings.Contains(ct, "json") {
			checkNoInventedReplacement(t, body, req)
		}
		if err == nil {
			if _, perr := req.Position(); perr != nil {
				var ae *APIError
				if !errors.As(perr, &ae) || ae.Code != CodeInvalidField {
					t.Fatalf("Position error %v", perr)
				}
			}
		}
	})
}

// FuzzDecodeData feeds the JSON data object of a CometD publish through DecodeData, and the
// same bytes as a /meta/disconnect ext through DisconnectPosition.
func FuzzDecodeData(f *testing.F) {
	f.Add([]byte(`{"operation":"requestChat","nickname":"Ann","subject":"s","userData":{"push_notification_deviceid":"tok","push_notification_type":"fcm"}}`))
	f.Add([]byte(`{"operation":"requestNotifications","secureKey":"k","transcriptPosition":"5"}`))
	f.Add([]byte(`{"operation":"sendMessage","secureKey":"k","message":"hi","messageType":"text","auth":{"encoded":"dTpw"}}`))
	f.Add([]byte(`{"operation":"updateData","secureKey":"k","userData":{"a":null,"b":true,"c":1e3}}`))
	f.Add([]byte(`{"transcriptPosition":12}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`{"a":"\ud800"}`))
	f.Add([]byte(`{"message":"\ud83d\ude00","userData":{"k":"\udc00"}}`))
	f.Add([]byte("{\"message\":\"\xed\xa0\x80\"}"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := DecodeData(raw, fuzzLimits)
		checkDecoded(t, req, err, fuzzLimits)
		if err == nil {
			checkNoInventedReplacement(t, string(raw), req)
		}
		if _, err := ParseComet("svc", raw, fuzzLimits); err != nil {
			checkDecoded(t, nil, err, fuzzLimits)
		}
		if p, ok := DisconnectPosition(raw); ok && (p < 0 || p > maxPosition) {
			t.Fatalf("disconnect position %d out of range", p)
		}
	})
}

// FuzzParseRESTPath feeds URL paths through the REST path router.
func FuzzParseRESTPath(f *testing.F) {
	for _, p := range []string{
		"/genesys/2/chat/customer-support",
		"/genesys/2/chat/svc/00048aAPEQJ8000U/send",
		"/genesys/2/chat/svc/c1/file/limits",
		"/genesys/2/chat/svc/c1/file/f1/download",
		"/genesys/2/chat/svc/c1/file/../delete",
		"/genesys/2/chat//x/y",
		"/genesys/2/chat/",
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		svc, chatID, kind, fileID, err := ParseRESTPath(p)
		if err != nil {
			checkDecoded(t, nil, err, fuzzLimits)
			return
		}
		if !validName(svc) || (fileID != "" && !validID(fileID)) || kind == "" {
			t.Fatalf("accepted %q: svc %q chat %q kind %q file %q", p, svc, chatID, kind, fileID)
		}
		if strings.Contains(svc+chatID+fileID, "/") {
			t.Fatalf("separator in a path element of %q", p)
		}
	})
}
