package gmschat

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Limits bounds every decoder in this package. Each limit is enforced while reading.
type Limits struct {
	// MaxBodyBytes bounds an urlencoded or JSON body, a CometD data object, and the non-file
	// parts of a multipart body together. Default 64 KiB.
	MaxBodyBytes int64
	// MaxFields bounds the number of fields, userData keys included. Default 128.
	MaxFields int
	// MaxKeyBytes bounds a field name or userData key. Default 256.
	MaxKeyBytes int
	// MaxValueBytes bounds one field or userData value (a message text, a nickname, ...).
	// Default 16 KiB.
	MaxValueBytes int
	// MaxFileBytes bounds the file part of a multipart upload. It is the transport ceiling;
	// the per-chat upload-max-file-size limit is enforced by chatcore. Default 2 MiB
	// (Chat Server's upload-max-file-size default).
	MaxFileBytes int64
}

// defaultLimits are the limits used where a field of Limits is zero.
var defaultLimits = Limits{
	MaxBodyBytes:  64 << 10,
	MaxFields:     128,
	MaxKeyBytes:   256,
	MaxValueBytes: 16 << 10,
	MaxFileBytes:  2 << 20,
}

// withDefaults fills zero fields with the defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = defaultLimits.MaxBodyBytes
	}
	if l.MaxFields <= 0 {
		l.MaxFields = defaultLimits.MaxFields
	}
	if l.MaxKeyBytes <= 0 {
		l.MaxKeyBytes = defaultLimits.MaxKeyBytes
	}
	if l.MaxValueBytes <= 0 {
		l.MaxValueBytes = defaultLimits.MaxValueBytes
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = defaultLimits.MaxFileBytes
	}
	return l
}

// Request is one decoded Chat V2 request, whatever it came in: an urlencoded or multipart
// form, a JSON body, or the data object of a CometD publish.
type Request struct {
	// Fields holds the plain fields (secureKey, message, nickname, operation, ...). Values are
	// text; JSON numbers and booleans are kept in their JSON spelling.
	Fields map[string]string
	// UserData holds userData[key]=value form fields or the userData JSON object.
	UserData map[string]string
	// File is the uploaded file of a multipart body, nil if none.
	File *File
}

// File is an uploaded file, read fully into memory (bounded by Limits.MaxFileBytes).
type File struct {
	Name        string // client file name, path elements removed
	ContentType string
	Data        []byte
}

// Get returns a field and whether it was present.
func (r *Request) Get(name string) (string, bool) {
	v, ok := r.Fields[name]
	return v, ok
}

// Value returns a field or "".
func (r *Request) Value(name string) string { return r.Fields[name] }

// Required returns a non-empty field or a CodeMissingField error naming it.
func (r *Request) Required(name string) (string, error) {
	v := r.Fields[name]
	if v == "" {
		return "", Errorf(CodeMissingField, "%s is required", name)
	}
	return v, nil
}

// Position returns the transcriptPosition field per §9.7 (absent = all events).
func (r *Request) Position() (int64, error) {
	v, ok := r.Fields["transcriptPosition"]
	return ParsePosition(v, ok)
}

// fieldSink collects fields under the limits; shared by every decoder so the rules are the same.
type fieldSink struct {
	lim Limits
	req *Request
	n   int
}

func newSink(lim Limits) *fieldSink {
	return &fieldSink{lim: lim, req: &Request{Fields: map[string]string{}, UserData: map[string]string{}}}
}

var errFieldCount = errors.New("too many fields")

// add stores one form field: "userData[k]" goes to UserData. The first occurrence of a name
// wins (as a servlet's getParameter does); later ones still count against MaxFields.
func (s *fieldSink) add(name, value string) error {
	s.n++
	if s.n > s.lim.MaxFields {
		return wrapErr(CodeMalformed, "too many fields", errFieldCount)
	}
	if len(name) > s.lim.MaxKeyBytes {
		return Errorf(CodeMalformed, "field name too long")
	}
	if len(value) > s.lim.MaxValueBytes {
		return Errorf(CodeMessageTooLarge, "value of a field is too large")
	}
	if !validText(name) || !validText(value) {
		return Errorf(CodeMalformed, "fields must be UTF-8 text")
	}
	if key, ok := userDataKey(name); ok {
		if key == "" {
			return Errorf(CodeInvalidField, "empty userData key")
		}
		if _, dup := s.req.UserData[key]; !dup {
			s.req.UserData[key] = value
		}
		return nil
	}
	if name == "" {
		return Errorf(CodeMalformed, "empty field name")
	}
	if _, dup := s.req.Fields[name]; !dup {
		s.req.Fields[name] = value
	}
	return nil
}

// addUserData stores one key of a JSON userData object.
func (s *fieldSink) addUserData(key, value string) error {
	s.n++
	if s.n > s.lim.MaxFields {
		return wrapErr(CodeMalformed, "too many fields", errFieldCount)
	}
	if key == "" {
		return Errorf(CodeInvalidField, "empty userData key")
	}
	if len(key) > s.lim.MaxKeyBytes {
		return Errorf(CodeMalformed, "userData key too long")
	}
	if len(value) > s.lim.MaxValueBytes {
		return Errorf(CodeMessageTooLarge, "userData value is too large")
	}
	if !validText(key) || !validText(value) {
		return Errorf(CodeMalformed, "userData must be UTF-8 text")
	}
	s.req.UserData[key] = value
	return nil
}

// userDataKey splits "userData[key]" (also "userdata[key]"); nested brackets are part of the key.
func userDataKey(name string) (string, bool) {
	const p = "userdata["
	if len(name) < len(p)+1 || !strings.EqualFold(name[:len(p)], p) || name[len(name)-1] != ']' {
		return "", false
	}
	return name[len(p) : len(name)-1], true
}

// validText rejects invalid UTF-8 and NUL, which no client sends and which stores and logs
// handle badly.
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
