package chatcore

import (
	"errors"
	"testing"
	"time"
)

// FuzzOptionsWith: any section/option/value either is refused with ErrOption (leaving the
// base unchanged) or yields options within the documented ranges. Never a panic.
func FuzzOptionsWith(f *testing.F) {
	for _, s := range []struct{ sec, key, val string }{
		{SectionSettings, "async-idle-alert", "120"},
		{SectionSettings, "async-idle-notices", "typing"},
		{SectionSettings, "flex-push-content", "secure-key,user-id"},
		{SectionInactivityControl, "timeout-alert2", "0"},
		{SectionInactivityControl, "message-close", ""},
		{SectionFileTransfer, "upload-file-types", "png:.JPG"},
		{SectionFileTransfer, "upload-max-file-size", "1073741823"},
		{"settings", "flex-push-timeout", "-1"},
		{"x", "y", "z"},
	} {
		f.Add(s.sec, s.key, s.val)
	}
	f.Fuzz(func(t *testing.T, sec, key, val string) {
		base := DefaultOptions()
		o, err := base.With(map[string]map[string]string{sec: {key: val}})
		if err != nil {
			if !errors.Is(err, ErrOption) {
				t.Fatalf("error not ErrOption: %v", err)
			}
			return
		}
		s, ic, ft := o.Settings, o.InactivityControl, o.FileTransfer
		in := func(d time.Duration, lo, hi int64) bool {
			return d >= time.Duration(lo)*time.Second && d <= time.Duration(hi)*time.Second
		}
		if !in(s.AsyncIdleAlert, 1, 1728000) || !in(s.AsyncIdleClose, 1, 1728000) || !in(s.FlexDisconnectTimeout, 1, 1728000) ||
			!in(s.FlexPushTimeout, 1, 1728000) || !in(s.FlexPushResendDelay, 1, 86400) || !in(s.AsyncCheckAtMargin, 0, 86400) ||
			!in(ic.TimeoutAlert, 1, 86400) || !in(ic.TimeoutAlert2, 0, 86400) || !in(ic.TimeoutClose, 1, 86400) ||
			ft.UploadMaxFiles < 0 || ft.UploadMaxFiles > 1000 || ft.UploadMaxFileSize < 0 || ft.UploadMaxFileSize > 1073741823 ||
			ft.UploadMaxTotalSize < 0 || ft.UploadMaxTotalSize > 1073741823 || ft.DownloadAttempts < 0 || ft.DownloadAttempts > 1000 {
			t.Fatalf("accepted out of range: [%s] %s=%q → %+v", sec, key, val, o)
		}
		for _, n := range []NoticeSet{s.AsyncIdleNotices, ic.IncludeNotices} {
			switch n {
			case NoticesNone, NoticesMajor, NoticesMajor2, NoticesTyping, NoticesAll:
			default:
				t.Fatalf("notice set %q", n)
			}
		}
	})
}
