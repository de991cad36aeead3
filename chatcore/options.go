package chatcore

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// NoticeSet says which notices count as activity (async-idle-notices, include-notices).
type NoticeSet string

// Notice sets (async-chat.md §2).
const (
	NoticesNone   NoticeSet = "none"
	NoticesMajor  NoticeSet = "major"
	NoticesMajor2 NoticeSet = "major2"
	NoticesTyping NoticeSet = "typing"
	NoticesAll    NoticeSet = "all"
)

// Counts reports whether an event of type t counts as activity under s. Messages always
// count; participant joins/leaves are decided by the caller (agents count).
func (s NoticeSet) Counts(t EventType) bool {
	switch t {
	case EventMessage:
		return true
	case EventPushURL, EventFileUploaded, EventFileDeleted:
		return s != NoticesNone
	case EventCustomNotice:
		return s == NoticesMajor2 || s == NoticesAll
	case EventTypingStarted:
		return s == NoticesTyping || s == NoticesAll
	case EventTypingStopped, EventNicknameUpdated:
		return s == NoticesAll
	}
	return false
}

// Settings is the [settings] section.
type Settings struct {
	FlexPushOnJoin         bool          // flex-push-on-join (false)
	SessionRestorePushSend bool          // session-restore-push-send (false): after Restore, flex-push-timeout still applies
	SessionRestoreExtendBy string        // session-restore-extend-by: none, agent, esp, both (none): who may Restore
	AsyncIdleNotices       NoticeSet     // async-idle-notices (major)
	AsyncIdleClose         time.Duration // async-idle-close (3600 s, 1–1728000)
	AsyncIdleAlert         time.Duration // async-idle-alert (86400 s, 1–1728000)
	FlexDisconnectTimeout  time.Duration // flex-disconnect-timeout (45 s, 1–1728000)
	FlexPushTimeout        time.Duration // flex-push-timeout (300 s, 1–1728000)
	FlexPushResendDelay    time.Duration // flex-push-resend-delay (15 s, 1–86400)
	FlexPushResendAttempts int           // flex-push-resend-attempts (chatgate: 5, 0–100)
	FlexPushContent        []string      // flex-push-content (session-id, user-id)
	// AsyncCheckAtMargin: async-check-at-margin, chatgate's option (60 s, 0–86400): how far
	// GCTI_Chat_AsyncCheckAt lies after the expected close.
	AsyncCheckAtMargin time.Duration
}

// InactivityControl is the [inactivity-control] section (regular, non-async chats).
type InactivityControl struct {
	Enabled        bool          // enabled (false)
	IncludeNotices NoticeSet     // include-notices (major)
	TimeoutAlert   time.Duration // timeout-alert (255 s, 1–86400)
	TimeoutAlert2  time.Duration // timeout-alert2 (0 = off, 0–86400)
	TimeoutClose   time.Duration // timeout-close (45 s, 1–86400)
	MessageAlert   string        // message-alert ("" = send nothing)
	MessageAlert2  string        // message-alert2
	MessageClose   string        // message-close
}

// FileTransfer is the [client-file-transfer] section: per-chat limits on the customer's
// uploads and downloads.
type FileTransfer struct {
	UploadMaxFiles     int      // upload-max-files (3, 0–1000; 0 = uploads off)
	UploadMaxFileSize  int64    // upload-max-file-size (2097152, 0–1073741823)
	UploadMaxTotalSize int64    // upload-max-total-size (5242880, 0–1073741823)
	UploadNeedAgent    bool     // upload-need-agent (chatgate: false)
	UploadFileTypes    []string // upload-file-types, colon-separated extensions (chatgate default below)
	DownloadAttempts   int      // download-attempts (chatgate: 10, 0–1000; 0 = downloads off)
	DeleteFile         bool     // delete-file: a deleted upload gives back its slot and bytes (chatgate: true)
}

// Options are the live chat options of one service.
type Options struct {
	Settings          Settings
	InactivityControl InactivityControl
	FileTransfer      FileTransfer
}

// DefaultFileTypes is chatgate's default upload-file-types.
const DefaultFileTypes = "bmp:csv:doc:docx:gif:jpeg:jpg:odt:ods:pdf:png:ppt:pptx:rtf:txt:xls:xlsx"

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		Settings: Settings{
			SessionRestoreExtendBy: "none",
			AsyncIdleNotices:       NoticesMajor,
			AsyncIdleClose:         3600 * time.Second,
			AsyncIdleAlert:         86400 * time.Second,
			FlexDisconnectTimeout:  45 * time.Second,
			FlexPushTimeout:        300 * time.Second,
			FlexPushResendDelay:    15 * time.Second,
			FlexPushResendAttempts: 5,
			FlexPushContent:        []string{"session-id", "user-id"},
			AsyncCheckAtMargin:     60 * time.Second,
		},
		InactivityControl: InactivityControl{
			IncludeNotices: NoticesMajor,
			TimeoutAlert:   255 * time.Second,
			TimeoutClose:   45 * time.Second,
			MessageAlert:   "Chat session will be closed soon due to inactivity of chat participants.",
			MessageAlert2:  "Chat session will be closed very soon due to inactivity of chat participants.",
			MessageClose:   "Chat session closed due to inactivity of chat participants.",
		},
		FileTransfer: FileTransfer{
			UploadMaxFiles:     3,
			UploadMaxFileSize:  2097152,
			UploadMaxTotalSize: 5242880,
			UploadFileTypes:    strings.Split(DefaultFileTypes, ":"),
			DownloadAttempts:   10,
			DeleteFile:         true,
		},
	}
}

// OptionSource returns the live options of a service (the caller backs it with [chat]
// defaults and chat.<service> overrides). It is called often (at every timer evaluation and
// file operation) and must be cheap and safe for concurrent use. After changing what it
// returns, call Core.OptionsChanged so running chats re-evaluate their deadlines.
type OptionSource interface {
	Options(service string) Options
}

// StaticOptions serves the same Options to every service.
type StaticOptions Options

// Options returns o.
func (o StaticOptions) Options(string) Options { return Options(o) }

// Section names.
const (
	SectionSettings          = "settings"
	SectionInactivityControl = "inactivity-control"
	SectionFileTransfer      = "client-file-transfer"
)

// ErrOption: an unknown option or an invalid value.
var ErrOption = errors.New("chatcore: invalid option")

// OptionError is one refused option of Options.With: an unknown section or option (Option
// empty for a section), or a value out of range. Err is the sentinel it wraps (ErrOption when
// nil); other packages with options in the same model (chatcore/routing) report theirs with
// it too, so a caller (the config file's reload, the admin API) can name each refused field.
type OptionError struct {
	Section, Option, Value string
	// Reason says why, for a person ("want an integer 1–1728000 (seconds)").
	Reason string
	Err    error
}

func (e *OptionError) Error() string {
	if e.Option == "" {
		return fmt.Sprintf("%v: %s [%s]", e.Unwrap(), e.Reason, e.Section)
	}
	if e.Value == "" && e.Reason == "unknown option" {
		return fmt.Sprintf("%v: [%s] unknown option %q", e.Unwrap(), e.Section, e.Option)
	}
	return fmt.Sprintf("%v: [%s] %s=%q: %s", e.Unwrap(), e.Section, e.Option, e.Value, e.Reason)
}

// Unwrap returns Err, or ErrOption.
func (e *OptionError) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	return ErrOption
}

// OptionErrors lists every *OptionError in err's tree (errors.Join and %w wrapping), in
// order.
func OptionErrors(err error) []*OptionError {
	var out []*OptionError
	var walk func(error)
	walk = func(err error) {
		if oe, ok := err.(*OptionError); ok {
			out = append(out, oe)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			if e := u.Unwrap(); e != nil {
				walk(e)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// optDef is one option: how a text value is parsed into Options (set) and how Options show
// it as text again (get), kept together so the two cannot disagree.
type optDef struct {
	set func(o *Options, v string) error
	get func(o *Options) string
}

func secs(lo, hi int64, dst func(*Options) *time.Duration) optDef {
	return optDef{func(o *Options, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want an integer %d–%d (seconds)", lo, hi)
		}
		*dst(o) = time.Duration(n) * time.Second
		return nil
	}, func(o *Options) string { return strconv.FormatInt(int64(*dst(o)/time.Second), 10) }}
}

func integer(lo, hi int64, dst func(*Options) *int64) optDef {
	return optDef{func(o *Options, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want an integer %d–%d", lo, hi)
		}
		*dst(o) = n
		return nil
	}, func(o *Options) string { return strconv.FormatInt(*dst(o), 10) }}
}

func smallInt(lo, hi int64, dst func(*Options) *int) optDef {
	return optDef{func(o *Options, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want an integer %d–%d", lo, hi)
		}
		*dst(o) = int(n)
		return nil
	}, func(o *Options) string { return strconv.Itoa(*dst(o)) }}
}

func boolean(dst func(*Options) *bool) optDef {
	return optDef{func(o *Options, v string) error {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true":
			*dst(o) = true
		case "false":
			*dst(o) = false
		default:
			return errors.New("want true or false")
		}
		return nil
	}, func(o *Options) string { return strconv.FormatBool(*dst(o)) }}
}

func notices(dst func(*Options) *NoticeSet) optDef {
	return optDef{func(o *Options, v string) error {
		s := NoticeSet(strings.TrimSpace(v))
		switch s {
		case NoticesNone, NoticesMajor, NoticesMajor2, NoticesTyping, NoticesAll:
			*dst(o) = s
			return nil
		}
		return errors.New("want none, major, major2, typing or all")
	}, func(o *Options) string { return string(*dst(o)) }}
}

func text(dst func(*Options) *string) optDef {
	return optDef{func(o *Options, v string) error { *dst(o) = v; return nil }, func(o *Options) string { return *dst(o) }}
}

var optionTable = map[string]map[string]optDef{
	SectionSettings: {
		"flex-push-on-join":         boolean(func(o *Options) *bool { return &o.Settings.FlexPushOnJoin }),
		"session-restore-push-send": boolean(func(o *Options) *bool { return &o.Settings.SessionRestorePushSend }),
		"session-restore-extend-by": {func(o *Options, v string) error {
			v = strings.TrimSpace(v)
			if !slices.Contains([]string{"none", "agent", "esp", "both"}, v) {
				return errors.New("want none, agent, esp or both")
			}
			o.Settings.SessionRestoreExtendBy = v
			return nil
		}, func(o *Options) string { return o.Settings.SessionRestoreExtendBy }},
		"async-idle-notices":        notices(func(o *Options) *NoticeSet { return &o.Settings.AsyncIdleNotices }),
		"async-idle-close":          secs(1, 1728000, func(o *Options) *time.Duration { return &o.Settings.AsyncIdleClose }),
		"async-idle-alert":          secs(1, 1728000, func(o *Options) *time.Duration { return &o.Settings.AsyncIdleAlert }),
		"flex-disconnect-timeout":   secs(1, 1728000, func(o *Options) *time.Duration { return &o.Settings.FlexDisconnectTimeout }),
		"flex-push-timeout":         secs(1, 1728000, func(o *Options) *time.Duration { return &o.Settings.FlexPushTimeout }),
		"flex-push-resend-delay":    secs(1, 86400, func(o *Options) *time.Duration { return &o.Settings.FlexPushResendDelay }),
		"flex-push-resend-attempts": smallInt(0, 100, func(o *Options) *int { return &o.Settings.FlexPushResendAttempts }),
		"async-check-at-margin":     secs(0, 86400, func(o *Options) *time.Duration { return &o.Settings.AsyncCheckAtMargin }),
		"flex-push-content": {func(o *Options, v string) error {
			var out []string
			for _, f := range strings.Split(v, ",") {
				f = strings.TrimSpace(f)
				if f == "" {
					continue
				}
				if !slices.Contains([]string{"app-dbid", "secure-key", "session-id", "user-id"}, f) {
					return fmt.Errorf("unknown field %q (want app-dbid, secure-key, session-id, user-id)", f)
				}
				out = append(out, f)
			}
			o.Settings.FlexPushContent = out
			return nil
		}, func(o *Options) string { return strings.Join(o.Settings.FlexPushContent, ",") }},
	},
	SectionInactivityControl: {
		"enabled":         boolean(func(o *Options) *bool { return &o.InactivityControl.Enabled }),
		"include-notices": notices(func(o *Options) *NoticeSet { return &o.InactivityControl.IncludeNotices }),
		"timeout-alert":   secs(1, 86400, func(o *Options) *time.Duration { return &o.InactivityControl.TimeoutAlert }),
		"timeout-alert2":  secs(0, 86400, func(o *Options) *time.Duration { return &o.InactivityControl.TimeoutAlert2 }),
		"timeout-close":   secs(1, 86400, func(o *Options) *time.Duration { return &o.InactivityControl.TimeoutClose }),
		"message-alert":   text(func(o *Options) *string { return &o.InactivityControl.MessageAlert }),
		"message-alert2":  text(func(o *Options) *string { return &o.InactivityControl.MessageAlert2 }),
		"message-close":   text(func(o *Options) *string { return &o.InactivityControl.MessageClose }),
	},
	SectionFileTransfer: {
		"upload-max-files":      smallInt(0, 1000, func(o *Options) *int { return &o.FileTransfer.UploadMaxFiles }),
		"upload-max-file-size":  integer(0, 1073741823, func(o *Options) *int64 { return &o.FileTransfer.UploadMaxFileSize }),
		"upload-max-total-size": integer(0, 1073741823, func(o *Options) *int64 { return &o.FileTransfer.UploadMaxTotalSize }),
		"download-attempts":     smallInt(0, 1000, func(o *Options) *int { return &o.FileTransfer.DownloadAttempts }),
		"upload-need-agent":     boolean(func(o *Options) *bool { return &o.FileTransfer.UploadNeedAgent }),
		"delete-file":           boolean(func(o *Options) *bool { return &o.FileTransfer.DeleteFile }),
		"upload-file-types": {func(o *Options, v string) error {
			var out []string
			for _, e := range strings.Split(v, ":") {
				e = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(e), "."))
				if e == "" {
					continue
				}
				if strings.ContainsAny(e, "/\\. ") {
					return fmt.Errorf("bad extension %q", e)
				}
				out = append(out, e)
			}
			o.FileTransfer.UploadFileTypes = out
			return nil
		}, func(o *Options) string { return strings.Join(o.FileTransfer.UploadFileTypes, ":") }},
	},
}

// With returns o with the given sections applied on top (section → option → value, as in
// config.ChatOptions). Unknown sections or options and invalid values are errors naming
// them; o itself is never changed. Apply the [chat] defaults to DefaultOptions(), then a
// service's overrides to that result.
func (o Options) With(sections map[string]map[string]string) (Options, error) {
	out := o.clone()
	var errs []error
	names := make([]string, 0, len(sections))
	for s := range sections {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		tab, ok := optionTable[s]
		if !ok {
			errs = append(errs, &OptionError{Section: s, Reason: "unknown section"})
			continue
		}
		keys := make([]string, 0, len(sections[s]))
		for k := range sections[s] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			def, ok := tab[k]
			if !ok {
				errs = append(errs, &OptionError{Section: s, Option: k, Reason: "unknown option"})
				continue
			}
			if err := def.set(&out, sections[s][k]); err != nil {
				errs = append(errs, &OptionError{Section: s, Option: k, Value: sections[s][k], Reason: err.Error()})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return o, err
	}
	return out, nil
}

func (o Options) clone() Options {
	o.Settings.FlexPushContent = slices.Clone(o.Settings.FlexPushContent)
	o.FileTransfer.UploadFileTypes = slices.Clone(o.FileTransfer.UploadFileTypes)
	return o
}

// OptionNames lists the option names of a section (for docs and config validation).
func OptionNames(section string) []string {
	var out []string
	for k := range optionTable[section] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Values returns every option of o as text, section → option → value, in the form With
// accepts (what an admin console shows as the effective values).
func (o Options) Values() map[string]map[string]string {
	out := make(map[string]map[string]string, len(optionTable))
	for sec, tab := range optionTable {
		m := make(map[string]string, len(tab))
		for k, def := range tab {
			m[k] = def.get(&o)
		}
		out[sec] = m
	}
	return out
}
