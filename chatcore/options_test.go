package chatcore

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultOptionsMatchSpec(t *testing.T) {
	o := DefaultOptions()
	s, ic, ft := o.Settings, o.InactivityControl, o.FileTransfer
	checks := []struct {
		name      string
		got, want any
	}{
		{"flex-push-on-join", s.FlexPushOnJoin, false},
		{"session-restore-push-send", s.SessionRestorePushSend, false},
		{"session-restore-extend-by", s.SessionRestoreExtendBy, "none"},
		{"async-idle-notices", s.AsyncIdleNotices, NoticesMajor},
		{"async-idle-close", s.AsyncIdleClose, 3600 * time.Second},
		{"async-idle-alert", s.AsyncIdleAlert, 86400 * time.Second},
		{"flex-disconnect-timeout", s.FlexDisconnectTimeout, 45 * time.Second},
		{"flex-push-timeout", s.FlexPushTimeout, 300 * time.Second},
		{"flex-push-resend-delay", s.FlexPushResendDelay, 15 * time.Second},
		{"flex-push-content", s.FlexPushContent, []string{"session-id", "user-id"}},
		{"async-check-at-margin", s.AsyncCheckAtMargin, 60 * time.Second},
		{"enabled", ic.Enabled, false},
		{"include-notices", ic.IncludeNotices, NoticesMajor},
		{"timeout-alert", ic.TimeoutAlert, 255 * time.Second},
		{"timeout-alert2", ic.TimeoutAlert2, time.Duration(0)},
		{"timeout-close", ic.TimeoutClose, 45 * time.Second},
		{"message-alert", ic.MessageAlert, "Chat session will be closed soon due to inactivity of chat participants."},
		{"message-alert2", ic.MessageAlert2, "Chat session will be closed very soon due to inactivity of chat participants."},
		{"message-close", ic.MessageClose, "Chat session closed due to inactivity of chat participants."},
		{"upload-max-files", ft.UploadMaxFiles, 3},
		{"upload-max-file-size", ft.UploadMaxFileSize, int64(2097152)},
		{"upload-max-total-size", ft.UploadMaxTotalSize, int64(5242880)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestOptionsWith(t *testing.T) {
	base := DefaultOptions()
	o, err := base.With(map[string]map[string]string{
		SectionSettings:          {"async-idle-alert": "120", "async-idle-notices": "all", "flex-push-on-join": "TRUE", "flex-push-content": "secure-key, user-id", "async-check-at-margin": "0"},
		SectionInactivityControl: {"enabled": "true", "timeout-alert2": "0", "message-alert": ""},
		SectionFileTransfer:      {"upload-file-types": "PNG:.jpg", "upload-max-files": "0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.Settings.AsyncIdleAlert != 120*time.Second || o.Settings.AsyncIdleNotices != NoticesAll || !o.Settings.FlexPushOnJoin ||
		!reflect.DeepEqual(o.Settings.FlexPushContent, []string{"secure-key", "user-id"}) || o.Settings.AsyncCheckAtMargin != 0 ||
		!o.InactivityControl.Enabled || o.InactivityControl.MessageAlert != "" ||
		!reflect.DeepEqual(o.FileTransfer.UploadFileTypes, []string{"png", "jpg"}) || o.FileTransfer.UploadMaxFiles != 0 {
		t.Fatalf("applied: %+v", o)
	}
	if !reflect.DeepEqual(base, DefaultOptions()) {
		t.Fatal("With changed its receiver")
	}
	// Layering: a service override on top of [chat] defaults.
	svc, err := o.With(map[string]map[string]string{SectionSettings: {"async-idle-alert": "60"}})
	if err != nil || svc.Settings.AsyncIdleAlert != 60*time.Second || svc.Settings.AsyncIdleNotices != NoticesAll {
		t.Fatalf("layered: %+v %v", svc.Settings, err)
	}
	for _, bad := range []map[string]map[string]string{
		{SectionSettings: {"async-idle-alert": "0"}},
		{SectionSettings: {"async-idle-alert": "1728001"}},
		{SectionSettings: {"async-idle-close": "soon"}},
		{SectionSettings: {"flex-push-resend-delay": "86401"}},
		{SectionSettings: {"async-idle-notices": "some"}},
		{SectionSettings: {"session-restore-extend-by": "anyone"}},
		{SectionSettings: {"flex-push-content": "phone-number"}},
		{SectionSettings: {"flex-push-on-join": "yes"}},
		{SectionSettings: {"no-such-option": "1"}},
		{SectionInactivityControl: {"timeout-alert": "0"}},
		{SectionInactivityControl: {"timeout-close": "86401"}},
		{SectionInactivityControl: {"timeout-alert2": "-1"}},
		{SectionFileTransfer: {"upload-max-files": "1001"}},
		{SectionFileTransfer: {"upload-max-file-size": "1073741824"}},
		{SectionFileTransfer: {"upload-file-types": "a/b"}},
		{"chat": {"x": "y"}},
	} {
		got, err := base.With(bad)
		if !errors.Is(err, ErrOption) {
			t.Errorf("%v: err = %v", bad, err)
		}
		if !reflect.DeepEqual(got, base) {
			t.Errorf("%v: options changed on error", bad)
		}
	}
	_, err = base.With(map[string]map[string]string{SectionSettings: {"async-idle-alert": "0", "flex-push-timeout": "x"}})
	if err == nil || !strings.Contains(err.Error(), "async-idle-alert") || !strings.Contains(err.Error(), "flex-push-timeout") {
		t.Fatalf("all errors named: %v", err)
	}
	if names := OptionNames(SectionInactivityControl); len(names) != 8 {
		t.Fatalf("inactivity-control options %v", names)
	}
}

func TestPushEnabled(t *testing.T) {
	for _, c := range []struct {
		ud     map[string]string
		onJoin bool
		want   bool
	}{
		{nil, true, false},
		{map[string]string{"push_notification_deviceid": "d"}, false, true},
		{map[string]string{"pushNotificationDeviceId": "d"}, false, true},
		{map[string]string{"push_notification_deviceid": ""}, false, false},
		{map[string]string{"push_notification_subscription": "{}"}, false, true},
		{map[string]string{"GCTI_Chat_PushSubscribe": "true", "GCTI_GMS_PushDeviceId": "d"}, false, false},
		{map[string]string{"GCTI_Chat_PushSubscribe": "true", "GCTI_GMS_PushDeviceId": "d"}, true, true},
		{map[string]string{"GCTI_Chat_PushSubscribe": "false", "GCTI_GMS_PushDeviceId": "d"}, true, false},
	} {
		if got := PushEnabled(c.ud, c.onJoin); got != c.want {
			t.Errorf("%v onJoin=%v: %v", c.ud, c.onJoin, got)
		}
	}
}

func TestManualClock(t *testing.T) {
	c := NewManualClock(t0)
	a := c.Timer(t0.Add(time.Second))
	b := c.Timer(t0.Add(3 * time.Second))
	past := c.Timer(t0)
	select {
	case <-past.C():
	default:
		t.Fatal("timer for now did not fire")
	}
	c.Advance(2 * time.Second)
	select {
	case <-a.C():
	default:
		t.Fatal("due timer did not fire")
	}
	select {
	case <-b.C():
		t.Fatal("timer fired early")
	default:
	}
	b.Stop()
	c.Advance(time.Hour)
	if c.Pending() != 0 {
		t.Fatal("stopped timer pending")
	}
}

// Values shows every option as With parses it: a round trip gives the same Options, for the
// defaults and for changed values; OptionErrors names each refused field.
func TestOptionValuesRoundTrip(t *testing.T) {
	for _, base := range []Options{DefaultOptions(), func() Options {
		o, err := DefaultOptions().With(map[string]map[string]string{
			SectionSettings:     {"async-idle-alert": "30", "flex-push-content": "app-dbid,secure-key", "flex-push-on-join": "true"},
			SectionFileTransfer: {"upload-file-types": "png:.PDF", "upload-max-file-size": "1024"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}()} {
		v := base.Values()
		for _, sec := range []string{SectionSettings, SectionInactivityControl, SectionFileTransfer} {
			if got, want := len(v[sec]), len(OptionNames(sec)); got != want || got == 0 {
				t.Fatalf("[%s]: %d values for %d options", sec, got, want)
			}
		}
		back, err := DefaultOptions().With(v)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, base) {
			t.Fatalf("round trip:\n%+v\n%+v", back, base)
		}
	}
	_, err := DefaultOptions().With(map[string]map[string]string{
		SectionSettings: {"async-idle-alert": "0", "nope": "1"}, "bogus": {"x": "1"},
	})
	got := map[string]string{}
	for _, oe := range OptionErrors(err) {
		got[oe.Section+"/"+oe.Option] = oe.Reason
		if !errors.Is(oe, ErrOption) {
			t.Fatalf("%v does not wrap ErrOption", oe)
		}
	}
	want := map[string]string{"settings/async-idle-alert": "want an integer 1–1728000 (seconds)", "settings/nope": "unknown option", "bogus/": "unknown section"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("option errors %v, want %v (%v)", got, want, err)
	}
}
