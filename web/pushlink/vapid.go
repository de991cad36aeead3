package pushlink

import (
	"encoding/json"
	"net/http"

	"github.com/chatgate/chatgate/push"
)

// Credentials is what VAPIDKeyHandler reads: the public facts of the installed push
// credentials (*push.Registry implements it; never secret material).
type Credentials interface {
	Infos() []push.CredentialInfo
}

// VAPIDKeyHandler serves the application server key (VAPID public key, base64url) a
// browser needs for pushManager.subscribe, as {"publicKey": "...", "provider": "..."}.
// It is public on purpose: the key is public by design (every subscription carries it),
// and a widget on a customer's page has no credentials to present. ?provider= names the
// credential (push_notification_provider, default "default"), ?debug=true its debug
// variant. 204 No Content when no such Web Push credential is installed, so a widget hides
// its opt-in: not 404, because every page with the widget asks, and browsers log a failed
// fetch as an error in every visitor's console on sites that do not use push. no-cache: an
// administrator may rotate the key at any time.
func VAPIDKeyHandler(creds Credentials) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		want := push.CredentialKey{Kind: push.KindWebPush, Name: q.Get("provider"), Debug: truthy(q.Get("debug"))}
		if want.Name == "" {
			want.Name = push.DefaultProviderName
		}
		w.Header().Set("Cache-Control", "no-cache")
		for _, info := range creds.Infos() {
			if info.Key == want && info.PublicKey != "" {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]string{"publicKey": info.PublicKey, "provider": want.Name})
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
