package gmschat

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func restReq(method, path, body string) *http.Request {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestParseRESTOperations(t *testing.T) {
	const base = "/genesys/2/chat/customer-support"
	const cred = "secureKey=k&userId=u&alias=a"
	cases := []struct {
		path, body string
		want       OpKind
		check      func(t *testing.T, op Op)
	}{
		{base, "firstName=First&lastName=Last&subject=s&emailAddress=e&userData[TimeZone]=-480", OpRequestChat, func(t *testing.T, op Op) {
			if op.Nickname != "First Last" || op.Subject != "s" || op.Email != "e" || op.UserData["TimeZone"] != "-480" || op.Position != PositionAll {
				t.Errorf("%+v", op)
			}
		}},
		{base + "/c1/send", cred + "&message=hi&messageType=text&transcriptPosition=0", OpSendMessage, func(t *testing.T, op Op) {
			if op.ChatID != "c1" || op.Text != "hi" || op.MessageType != "text" || op.Position != PositionNone || op.SecureKey != "k" || op.UserID != "u" || op.Alias != "a" {
				t.Errorf("%+v", op)
			}
		}},
		{base + "/c1/refresh", cred + "&transcriptPosition=5", OpRefresh, func(t *testing.T, op Op) {
			if op.Position != 5 {
				t.Errorf("%+v", op)
			}
		}},
		{base + "/c1/startTyping", cred + "&message=he", OpStartTyping, func(t *testing.T, op Op) {
			if op.Text != "he" {
				t.Errorf("%+v", op)
			}
		}},
		{base + "/c1/stopTyping", cred, OpStopTyping, nil},
		{base + "/c1/pushUrl", cred + "&pushUrl=https%3A%2F%2Fx", OpPushURL, func(t *testing.T, op Op) {
			if op.Text != "https://x" {
				t.Errorf("%+v", op)
			}
		}},
		{base + "/c1/updateNickname", cred + "&nickname=Z", OpUpdateNickname, nil},
		{base + "/c1/updateData", cred + "&userData[a]=b", OpUpdateData, nil},
		{base + "/c1/customNotice", cred + "&message=n", OpCustomNotice, nil},
		{base + "/c1/disconnect", cred, OpDisconnect, nil},
		{base + "/c1/file/limits", cred, OpFileLimits, nil},
		{base + "/c1/file/f-1/download", cred, OpFileDownload, func(t *testing.T, op Op) {
			if op.FileID != "f-1" {
				t.Errorf("%+v", op)
			}
		}},
		{base + "/c1/file/f-1/delete", cred, OpFileDelete, nil},
		// One trailing slash is tolerated (the Genesys widget requests a chat at {svc}/).
		{base + "/", "nickname=N", OpRequestChat, nil},
		{base + "/c1/send/", cred + "&message=hi", OpSendMessage, nil},
		{base + "/c1/file/limits/", cred, OpFileLimits, nil},
		{base + "/c1/refresh", cred + "&transcriptPosition=-1", OpRefresh, func(t *testing.T, op Op) {
			if op.Position != -1 {
				t.Errorf("%+v", op)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			op, err := ParseREST(restReq(http.MethodPost, c.path, c.body), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if op.Kind != c.want || op.Service != "customer-support" {
				t.Fatalf("kind %s service %s", op.Kind, op.Service)
			}
			if c.check != nil {
				c.check(t, op)
			}
		})
	}
}

func TestParseRESTErrors(t *testing.T) {
	const base = "/genesys/2/chat/svc"
	cases := []struct {
		method, path, body string
		want               Code
	}{
		{http.MethodGet, base + "/c1/refresh", "secureKey=k", CodeMethodNotAllowed},
		{http.MethodPost, "/genesys/2/chat/bad%20name", "nickname=x", CodeUnknownService},
		{http.MethodPost, base + "/c1/nope", "secureKey=k", CodeUnknownOperation},
		{http.MethodPost, base + "/c1/file/x/open", "secureKey=k", CodeUnknownOperation},
		{http.MethodPost, base, "subject=x", CodeMissingField},
		{http.MethodPost, base, "firstName=x", CodeMissingField},
		{http.MethodPost, base + "/c1/send", "message=hi", CodeMissingCredentials},
		{http.MethodPost, base + "/c1/send", "secureKey=k", CodeMissingField},
		{http.MethodPost, base + "/c1/pushUrl", "secureKey=k", CodeMissingField},
		{http.MethodPost, base + "/c1/updateNickname", "secureKey=k&nickname=%20", CodeMissingField},
		{http.MethodPost, base + "/c1/updateData", "secureKey=k", CodeMissingField},
		{http.MethodPost, base + "/c1/file", "secureKey=k", CodeMissingField},
		{http.MethodPost, base + "/c1/refresh", "secureKey=k&transcriptPosition=--2", CodeInvalidField},
		{http.MethodPost, base + "/c1/refresh", "secureKey=k&transcriptPosition=-", CodeInvalidField},
		{http.MethodPost, base + "//", "nickname=x", CodeUnknownOperation},
		{http.MethodPost, base + "/c1/send//", "secureKey=k&message=m", CodeUnknownOperation},
		{http.MethodPost, base + "/c.1/refresh", "secureKey=k", CodeForbidden},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path+" "+c.body, func(t *testing.T) {
			_, err := ParseREST(restReq(c.method, c.path, c.body), Limits{})
			if err == nil {
				t.Fatal("no error")
			}
			if got := codeOf(t, err); got != c.want {
				t.Fatalf("code %d, want %d (%v)", got, c.want, err)
			}
		})
	}
}

func TestParseComet(t *testing.T) {
	op, err := ParseComet("svc", []byte(`{"operation":"requestChat","nickname":"N","userData":{"push_notification_deviceid":"tok","push_notification_type":"fcm"}}`), Limits{})
	if err != nil || op.Kind != OpRequestChat || op.Nickname != "N" || op.UserData["push_notification_type"] != "fcm" {
		t.Fatalf("%+v %v", op, err)
	}
	op, err = ParseComet("svc", []byte(`{"operation":"requestNotifications","secureKey":"k","transcriptPosition":"7"}`), Limits{})
	if err != nil || op.Kind != OpRequestNotifications || op.Position != 7 {
		t.Fatalf("%+v %v", op, err)
	}
	op, err = ParseComet("svc", []byte(`{"operation":"refresh","secureKey":"k","transcriptPosition":-1}`), Limits{})
	if err != nil || op.Kind != OpRefresh || op.Position != -1 || !op.PositionGiven {
		t.Fatalf("%+v %v", op, err)
	}
	op, err = ParseComet("svc", []byte(`{"operation":"sendMessage","secureKey":"k","message":"m","auth":{"encoded":"x"}}`), Limits{})
	if err != nil || op.Kind != OpSendMessage || op.Text != "m" {
		t.Fatalf("%+v %v", op, err)
	}
	for data, want := range map[string]Code{
		`{"secureKey":"k"}`:                          CodeMissingField,
		`{"operation":"send","secureKey":"k"}`:       CodeUnknownOperation, // REST name is not a CometD operation
		`{"operation":"sendMessage","message":"m"}`:  CodeMissingCredentials,
		`{"operation":"updateData","secureKey":"k"}`: CodeMissingField,
		`"x"`: CodeMalformed,
	} {
		if _, err := ParseComet("svc", []byte(data), Limits{}); err == nil || codeOf(t, err) != want {
			t.Errorf("%s: %v, want code %d", data, err, want)
		}
	}
}

func TestParseNtf(t *testing.T) {
	for _, name := range []string{"fileGetLimits", "fileGetsLimits"} {
		ct, body := multipartBody(t, map[string]string{"operation": name, "secureKey": "k"}, "", nil)
		r := httptest.NewRequest(http.MethodPost, "/genesys/2/chat-ntf", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", ct)
		op, err := ParseNtf(r, Limits{})
		if err != nil || op.Kind != OpFileLimits {
			t.Fatalf("%s: %+v %v", name, op, err)
		}
	}
	ct, body := multipartBody(t, map[string]string{"operation": "fileUpload", "secureKey": "k", "userData[file-description]": "d"}, "a.txt", []byte("abc"))
	r := httptest.NewRequest(http.MethodPost, "/genesys/2/chat-ntf", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", ct)
	op, err := ParseNtf(r, Limits{})
	if err != nil || op.Kind != OpFileUpload || op.File == nil || string(op.File.Data) != "abc" || op.UserData["file-description"] != "d" {
		t.Fatalf("%+v %v", op, err)
	}
	for body, want := range map[string]Code{
		"operation=fileDownload&secureKey=k":            CodeMissingField,
		"operation=fileDelete&secureKey=k&fileId=a%2Fb": CodeFileNotFound,
		"operation=fileUpload&secureKey=k":              CodeMissingField,
		"operation=fileList&secureKey=k":                CodeUnknownOperation,
		"operation=fileGetLimits":                       CodeMissingCredentials,
	} {
		r := restReq(http.MethodPost, "/genesys/2/chat-ntf", body)
		if _, err := ParseNtf(r, Limits{}); err == nil || codeOf(t, err) != want {
			t.Errorf("%s: %v, want code %d", body, err, want)
		}
	}
	op, err = ParseNtf(restReq(http.MethodPost, "/genesys/2/chat-ntf", "operation=fileDownload&secureKey=k&fileId=f1"), Limits{})
	if err != nil || op.FileID != "f1" {
		t.Fatalf("%+v %v", op, err)
	}
}
