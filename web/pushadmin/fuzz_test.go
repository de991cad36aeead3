package pushadmin

import (
	"bytes"
	"testing"
	"time"

	"github.com/chatgate/chatgate/push"
)

// FuzzParseUpload: any body, for any kind, either fails cleanly or yields a credential whose
// validation does not panic.
func FuzzParseUpload(f *testing.F) {
	f.Add("apns", []byte(`{"authKeyP8":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----","keyId":"ABC123DEFG","teamId":"TEAM123456","topic":"t"}`))
	f.Add("apns", []byte(`{"certificateP12":"AAAA","certificatePassword":"x","topic":"t"}`))
	f.Add("apns", []byte(`{"authKeyP8":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----","keyId":"ABC123DEFG","teamId":"TEAM123456","topic":"t"}`))
	f.Add("apns", []byte(`{"certificateP12":"MIIJqQIBAzCCCV8GCSqGSIb3DQEHAaCCCVAEgglMMIIJSDCCA/8GCSqGSIb3DQEHBqCCA/AwggPsAgEAMIID5QYJKoZIhvcNAQcBMBwGCiqGSIb3DQEMAQYwDgQI","certificatePassword":"pw","topic":"t"}`))
	f.Add("fcm", []byte(`{"serviceAccount":{"type":"service_account","client_email":"a@b","project_id":"p","private_key":"x"}}`))
	f.Add("fcm", []byte(`{"serviceAccount":"{\"type\":\"service_account\"}"}`))
	f.Add("webpush", []byte(`{"publicKey":"BA","privateKey":"AA","subject":"mailto:a@b.c"}`))
	f.Add("customhttp", []byte(`{"url":"https://example.com/push","authorization":"Bearer x"}`))
	f.Fuzz(func(t *testing.T, kind string, body []byte) {
		k := push.CredentialKey{Kind: push.Kind(kind), Name: "default"}
		if k.Validate() != nil {
			return
		}
		c, err := parseUpload(k, bytes.NewReader(body))
		if err != nil {
			return
		}
		_, _ = c.Validate(time.Now())
	})
}
