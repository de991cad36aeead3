package pushlink

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Type is the kind of notification (the "event" data field of every push).
type Type string

const (
	TypeMessage     Type = "Message"
	TypeAgentJoined Type = "AgentJoined"
	TypeAgentLeft   Type = "AgentLeft"
	TypeIdleAlert   Type = "IdleAlert"
	TypeIdleClose   Type = "IdleClose"
	TypeChatEnded   Type = "ChatEnded"
	// TypePing is the silent liveness check; it has no visible text.
	TypePing Type = "Ping"
)

// Template is the visible text of one notification type. {nickname}, {text} and {chatId}
// are replaced; an empty Title sends only a body. Off turns that notification type off for
// the language (which events notify is the deployment's choice).
type Template struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
	Off   bool   `json:"off,omitempty"`
}

// visibleTypes are the notification types a templates file may name (the ping has no text).
var visibleTypes = []Type{TypeMessage, TypeAgentJoined, TypeAgentLeft, TypeIdleAlert, TypeIdleClose, TypeChatEnded}

// Templates maps a language (push_notification_language, e.g. "ru-RU" or "ru") to the
// templates per type. Lookup tries the exact tag, then its primary language, then "en".
type Templates map[string]map[Type]Template

// DefaultTemplates are English and Russian texts (the two languages GMS samples use).
func DefaultTemplates() Templates {
	return Templates{
		"en": {
			TypeMessage:     {Title: "{nickname}", Body: "{text}"},
			TypeAgentJoined: {Title: "Chat", Body: "{nickname} joined the chat"},
			TypeAgentLeft:   {Title: "Chat", Body: "{nickname} left the chat"},
			TypeIdleAlert:   {Title: "Chat", Body: "{text}"},
			TypeIdleClose:   {Title: "Chat", Body: "{text}"},
			TypeChatEnded:   {Title: "Chat", Body: "The chat has ended"},
		},
		"ru": {
			TypeMessage:     {Title: "{nickname}", Body: "{text}"},
			TypeAgentJoined: {Title: "Чат", Body: "{nickname} присоединился к чату"},
			TypeAgentLeft:   {Title: "Чат", Body: "{nickname} покинул чат"},
			TypeIdleAlert:   {Title: "Чат", Body: "{text}"},
			TypeIdleClose:   {Title: "Чат", Body: "{text}"},
			TypeChatEnded:   {Title: "Чат", Body: "Чат завершён"},
		},
	}
}

// ParseTemplates reads templates from JSON ({"en": {"Message": {"title": ..., "body":
// ...}, "AgentLeft": {"off": true}}}) and fills gaps from DefaultTemplates. Unknown
// notification types and unknown fields are errors, so a typo does not silently keep a default.
func ParseTemplates(b []byte) (Templates, error) {
	var t Templates
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("pushlink: templates: %w", err)
	}
	for lang, m := range t {
		if strings.TrimSpace(lang) == "" {
			return nil, errors.New("pushlink: templates: empty language tag")
		}
		for typ := range m {
			if !slices.Contains(visibleTypes, typ) {
				return nil, fmt.Errorf("pushlink: templates: %s: unknown notification type %q (want one of %v)", lang, typ, visibleTypes)
			}
		}
	}
	def := DefaultTemplates()
	for lang, m := range def {
		if t[lang] == nil {
			t[lang] = map[Type]Template{}
		}
		for typ, tpl := range m {
			if _, ok := t[lang][typ]; !ok {
				t[lang][typ] = tpl
			}
		}
	}
	return t, nil
}

// maxBodyRunes keeps push texts within what every platform shows (and within APNs' 4 KiB
// payload with room for data).
const maxBodyRunes = 240

// Enabled reports whether notifications of typ are sent to a customer of language lang.
func (t Templates) Enabled(lang string, typ Type) bool {
	tpl, ok := t.find(lang, typ)
	return !ok || !tpl.Off
}

// Render returns the title and body for typ in lang.
func (t Templates) Render(lang string, typ Type, nickname, text, chatID string) (string, string) {
	tpl, ok := t.find(lang, typ)
	if !ok {
		return "", truncate(text)
	}
	r := strings.NewReplacer("{nickname}", nickname, "{text}", text, "{chatId}", chatID)
	return truncate(r.Replace(tpl.Title)), truncate(r.Replace(tpl.Body))
}

func (t Templates) find(lang string, typ Type) (Template, bool) {
	lang = strings.ReplaceAll(strings.TrimSpace(lang), "_", "-")
	cands := []string{lang}
	if i := strings.IndexByte(lang, '-'); i > 0 {
		cands = append(cands, lang[:i])
	}
	cands = append(cands, "en")
	for _, c := range cands {
		for l, m := range t {
			if strings.EqualFold(l, c) {
				if tpl, ok := m[typ]; ok {
					return tpl, true
				}
			}
		}
	}
	return Template{}, false
}

func truncate(s string) string {
	if utf8.RuneCountInString(s) <= maxBodyRunes {
		return s
	}
	r := []rune(s)
	return string(r[:maxBodyRunes-1]) + "…"
}
