package pushtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
)

// HTTPPush is one POST the custom HTTP receiver accepted.
type HTTPPush struct {
	DeviceID      string            `json:"deviceId"`
	Message       string            `json:"message"`
	ID            string            `json:"id"`
	Title         string            `json:"title"`
	Data          map[string]string `json:"data"`
	Authorization string            `json:"-"`
}

// HTTPReceiver is a GMS "customhttp" receiver: it accepts POSTed JSON {deviceId, message}
// and answers 200, or the scripted reply for the deviceId.
type HTTPReceiver struct {
	Server *httptest.Server
	script script
	mu     sync.Mutex
	got    []HTTPPush
	keep   int
	count  atomic.Int64
}

// StartHTTPReceiver starts the receiver (TLS, like a production receiver should be).
func StartHTTPReceiver(keep int) *HTTPReceiver {
	f := &HTTPReceiver{keep: keep}
	if f.keep == 0 {
		f.keep = 10000
	}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.Server.EnableHTTP2 = true
	f.Server.StartTLS()
	return f
}

// Script queues replies for deviceId (then 200).
func (f *HTTPReceiver) Script(deviceID string, r ...Reply) { f.script.add(deviceID, r...) }

// Always makes every push to deviceId answer r.
func (f *HTTPReceiver) Always(deviceID string, r Reply) { f.script.setAlways(deviceID, r) }

// Pushes returns the accepted pushes.
func (f *HTTPReceiver) Pushes() []HTTPPush {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]HTTPPush(nil), f.got...)
}

// Count is the number of accepted pushes.
func (f *HTTPReceiver) Count() int64 { return f.count.Load() }

// Close stops the server.
func (f *HTTPReceiver) Close() { f.Server.Close() }

func (f *HTTPReceiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "POST application/json only", http.StatusUnsupportedMediaType)
		return
	}
	var p HTTPPush
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(b, &p); err != nil || p.DeviceID == "" {
		http.Error(w, "want {deviceId, message}", http.StatusBadRequest)
		return
	}
	if rep, ok := f.script.next(p.DeviceID); ok && rep.Status/100 != 2 {
		if rep.RetryAfter != "" {
			w.Header().Set("Retry-After", rep.RetryAfter)
		}
		http.Error(w, rep.Reason, rep.Status)
		return
	}
	p.Authorization = r.Header.Get("Authorization")
	f.mu.Lock()
	if len(f.got) < f.keep {
		f.got = append(f.got, p)
	}
	f.mu.Unlock()
	f.count.Add(1) // after recording: a waiter on Count then finds the request recorded
	w.WriteHeader(http.StatusOK)
}
