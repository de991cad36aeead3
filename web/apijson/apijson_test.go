package apijson

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestErrorShape(t *testing.T) {
	w := httptest.NewRecorder()
	Error(w, 404, CodeNotFound, "no credential apns/default")
	if w.Code != 404 || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	var got map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["error"] != "no credential apns/default" || got["code"] != "not_found" {
		t.Fatalf("body %s", w.Body)
	}
}
