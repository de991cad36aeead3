package gmschat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// errBodyLimit is returned by limitReader once the limit is passed.
var errBodyLimit = errors.New("body over limit")

// limitReader fails with errBodyLimit instead of truncating silently (io.LimitReader would
// hand a truncated body to the parser).
type limitReader struct {
	r io.Reader
	n int64 // bytes still allowed
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// Allow a clean EOF exactly at the limit.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, errBodyLimit
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// DecodeForm decodes the body of a Chat V2 REST or chat-ntf request:
// application/x-www-form-urlencoded, multipart/form-data (the only one that may carry a file)
// or, tolerated for clients that send it, application/json (an object with the same field
// names and a userData object, decoded like a CometD data object). A body without a
// Content-Type must be empty. Only the body is read, never the query string.
func DecodeForm(r *http.Request, lim Limits) (*Request, error) {
	lim = lim.withDefaults()
	ct := r.Header.Get("Content-Type")
	var body io.Reader = http.NoBody
	if r.Body != nil {
		body = r.Body
	}
	if ct == "" {
		if r.ContentLength > 0 {
			return nil, Errorf(CodeUnsupportedMedia, "Content-Type is required")
		}
		n, err := io.Copy(io.Discard, &limitReader{r: body, n: 0})
		if err != nil || n > 0 {
			return nil, Errorf(CodeUnsupportedMedia, "Content-Type is required")
		}
		return newSink(lim).req, nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, wrapErr(CodeUnsupportedMedia, "unreadable Content-Type", err)
	}
	switch {
	case mt == "application/x-www-form-urlencoded":
		return decodeURLEncoded(body, lim)
	case mt == "multipart/form-data":
		b := params["boundary"]
		if b == "" {
			return nil, Errorf(CodeMalformed, "multipart boundary missing")
		}
		return decodeMultipart(body, b, lim)
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		raw, err := readAllLimited(body, lim.MaxBodyBytes)
		if err != nil {
			return nil, err
		}
		return DecodeData(raw, lim)
	default:
		return nil, Errorf(CodeUnsupportedMedia, "Content-Type %s is not accepted", mt)
	}
}

// readAllLimited reads at most max bytes, CodeBodyTooLarge beyond.
func readAllLimited(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(&limitReader{r: r, n: max})
	if errors.Is(err, errBodyLimit) {
		return nil, Errorf(CodeBodyTooLarge, "request body is larger than %d bytes", max)
	}
	if err != nil {
		return nil, wrapErr(CodeMalformed, "request body could not be read", err)
	}
	return b, nil
}

func decodeURLEncoded(body io.Reader, lim Limits) (*Request, error) {
	raw, err := readAllLimited(body, lim.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	s := newSink(lim)
	// Parsed by hand, in order, so "first occurrence wins" holds and the field count is
	// checked before anything is stored (url.ParseQuery builds the whole map first).
	for q := string(raw); q != ""; {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, wrapErr(CodeMalformed, "bad escape in field name", err)
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, wrapErr(CodeMalformed, "bad escape in field value", err)
		}
		if err := s.add(name, value); err != nil {
			return nil, err
		}
	}
	return s.req, nil
}

// multipartOverhead is the allowance for part headers and boundaries on top of the field and
// file bytes.
const multipartOverhead = 16 << 10

func decodeMultipart(body io.Reader, boundary string, lim Limits) (*Request, error) {
	lr := &limitReader{r: body, n: lim.MaxBodyBytes + lim.MaxFileBytes + multipartOverhead}
	mr := multipart.NewReader(lr, boundary)
	s := newSink(lim)
	fieldBytes := int64(0)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return s.req, nil
		}
		if err != nil {
			return nil, multipartErr(err)
		}
		name := p.FormName()
		if name == "" {
			_ = p.Close()
			return nil, Errorf(CodeMalformed, "multipart part without a form name")
		}
		if name == "file" || p.FileName() != "" {
			if s.req.File != nil {
				return nil, Errorf(CodeInvalidField, "only one file per request")
			}
			data, err := io.ReadAll(&limitReader{r: p, n: lim.MaxFileBytes})
			if errors.Is(err, errBodyLimit) {
				return nil, Errorf(CodeFileTooLarge, "file is larger than %d bytes", lim.MaxFileBytes)
			}
			if err != nil {
				return nil, multipartErr(err)
			}
			s.n++
			if s.n > lim.MaxFields {
				return nil, wrapErr(CodeMalformed, "too many fields", errFieldCount)
			}
			s.req.File = &File{Name: cleanFileName(p.FileName()), ContentType: p.Header.Get("Content-Type"), Data: data}
			continue
		}
		v, err := io.ReadAll(&limitReader{r: p, n: int64(lim.MaxValueBytes)})
		if errors.Is(err, errBodyLimit) {
			return nil, Errorf(CodeMessageTooLarge, "value of field is too large")
		}
		if err != nil {
			return nil, multipartErr(err)
		}
		fieldBytes += int64(len(v)) + int64(len(name))
		if fieldBytes > lim.MaxBodyBytes {
			return nil, Errorf(CodeBodyTooLarge, "request fields are larger than %d bytes", lim.MaxBodyBytes)
		}
		if err := s.add(name, string(v)); err != nil {
			return nil, err
		}
	}
}

func multipartErr(err error) error {
	if errors.Is(err, errBodyLimit) {
		return Errorf(CodeBodyTooLarge, "request body is too large")
	}
	return wrapErr(CodeMalformed, "malformed multipart body", err)
}

// cleanFileName keeps the last path element of a client file name (browsers may send
// C:\fakepath\x.png) and bounds its length.
func cleanFileName(n string) string {
	n = strings.ReplaceAll(n, `\`, "/")
	n = path.Base(n)
	if n == "." || n == "/" {
		n = ""
	}
	if len(n) > 255 {
		n = n[:255]
	}
	if !validText(n) {
		n = strings.ToValidUTF8(strings.ReplaceAll(n, "\x00", ""), "_")
	}
	return n
}

// DecodeData decodes the JSON `data` object of a CometD publish on /service/chatV2/{svc}
// (and a JSON REST body). Values may be strings, numbers or booleans (kept in their JSON
// spelling); null is treated as absent; userData must be an object of such values; other
// object or array fields (for example GMSLibrary's auth object) are ignored.
func DecodeData(raw []byte, lim Limits) (*Request, error) {
	lim = lim.withDefaults()
	if int64(len(raw)) > lim.MaxBodyBytes {
		return nil, Errorf(CodeBodyTooLarge, "request data is larger than %d bytes", lim.MaxBodyBytes)
	}
	// encoding/json turns invalid UTF-8 and lone surrogate escapes into U+FFFD without an
	// error, so they are refused here, on the raw bytes, with the answer form bodies get.
	if !jsonTextValid(raw) {
		return nil, Errorf(CodeMalformed, "fields must be UTF-8 text")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return nil, wrapErr(CodeMalformed, "data must be a JSON object", err)
	}
	if obj == nil {
		return nil, Errorf(CodeMalformed, "data must be a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, Errorf(CodeMalformed, "trailing data after the JSON object")
	}
	if len(obj) > lim.MaxFields {
		return nil, wrapErr(CodeMalformed, "too many fields", errFieldCount)
	}
	s := newSink(lim)
	for k, v := range obj {
		if strings.EqualFold(k, "userData") {
			if err := decodeUserDataJSON(s, v); err != nil {
				return nil, err
			}
			continue
		}
		text, ok, err := scalarJSON(v)
		if err != nil {
			return nil, wrapErr(CodeMalformed, fmt.Sprintf("field %q is not valid JSON", truncate(k, 64)), err)
		}
		if !ok {
			continue // object/array/null: ignored
		}
		if err := s.add(k, text); err != nil {
			return nil, err
		}
	}
	return s.req, nil
}

// jsonTextValid reports whether raw is valid UTF-8 and every \u escape in its strings is a
// scalar value: a high surrogate escape must be followed by a low one, a low one must not
// stand alone. Malformed escapes are left to the JSON decoder, which reports them.
func jsonTextValid(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 < len(raw) && raw[i+1] != 'u' {
				i++ // a one-character escape, possibly \" or \\
				continue
			}
			r, ok := hexEscape(raw, i)
			if !ok {
				continue
			}
			i += 5 // the escape is raw[i-5:i+1]
			if !utf16.IsSurrogate(r) {
				continue
			}
			if r >= 0xDC00 {
				return false // a low surrogate first
			}
			lo, ok := hexEscape(raw, i+1)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return false // a high surrogate not followed by a low one
			}
			i += 6
		}
	}
	return true
}

// hexEscape decodes the \uXXXX escape starting at raw[i]; ok is false if there is none.
func hexEscape(raw []byte, i int) (rune, bool) {
	if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, h := range raw[i+2 : i+6] {
		switch {
		case h >= '0' && h <= '9':
			r = r<<4 | rune(h-'0')
		case h >= 'a' && h <= 'f':
			r = r<<4 | rune(h-'a'+10)
		case h >= 'A' && h <= 'F':
			r = r<<4 | rune(h-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

func decodeUserDataJSON(s *fieldSink, v json.RawMessage) error {
	if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return wrapErr(CodeInvalidField, "userData must be an object of strings", err)
	}
	for k, mv := range m {
		text, ok, err := scalarJSON(mv)
		if err != nil || !ok {
			if err == nil && bytes.Equal(bytes.TrimSpace(mv), []byte("null")) {
				continue
			}
			return Errorf(CodeInvalidField, "userData values must be strings")
		}
		if err := s.addUserData(k, text); err != nil {
			return err
		}
	}
	return nil
}

// scalarJSON returns a JSON string, number or boolean as text; ok is false for null, objects
// and arrays.
func scalarJSON(v json.RawMessage) (string, bool, error) {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return "", false, errors.New("empty value")
	}
	switch t[0] {
	case '"':
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return "", false, err
		}
		return s, true, nil
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(t, &b); err != nil {
			return "", false, err
		}
		if b {
			return "true", true, nil
		}
		return "false", true, nil
	case 'n', '{', '[':
		return "", false, nil
	default:
		d := json.NewDecoder(bytes.NewReader(t))
		d.UseNumber()
		var n json.Number
		if err := d.Decode(&n); err != nil {
			return "", false, err
		}
		return n.String(), true, nil
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// DisconnectPosition reads ext.transcriptPosition of a Bayeux /meta/disconnect (§2.5): the
// highest index the client received, as a string or a number. ok is false when absent or
// unreadable (the caller then treats the disconnect as a plain one).
func DisconnectPosition(ext []byte) (pos int64, ok bool) {
	if len(bytes.TrimSpace(ext)) == 0 {
		return 0, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(ext, &m); err != nil {
		return 0, false
	}
	v, present := m["transcriptPosition"]
	if !present {
		return 0, false
	}
	text, isScalar, err := scalarJSON(v)
	if err != nil || !isScalar {
		return 0, false
	}
	p, err := ParsePosition(text, true)
	if err != nil || p < 0 {
		return 0, false // an index received, never "the last N"
	}
	return p, true
}
