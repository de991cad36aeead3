package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
)

// ChatScopeDefault is the config-file key whose sections apply to every chat service; a key
// "chat.<serviceName>" overrides them for one service (GMS's [chat] and [chat.<name>]).
const ChatScopeDefault = "chat"

// ChatOptions are the chat options of the config file: scope ("" for the [chat] defaults,
// else a service name) → section ("settings", "inactivity-control", "client-file-transfer")
// → option → value. Values stay strings, as in the Genesys option model; chatcore parses and
// validates them (the config package does not know what they mean).
type ChatOptions map[string]map[string]map[string]string

// Section returns the options of one section of one scope ("" = defaults); nil if unset.
func (o ChatOptions) Section(scope, section string) map[string]string {
	return o[scope][section]
}

// Scopes lists the scopes present, "" (defaults) first, then service names sorted.
func (o ChatOptions) Scopes() []string {
	out := make([]string, 0, len(o))
	for s := range o {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

var (
	chatScopeKey = regexp.MustCompile(`^chat(?:\.([A-Za-z0-9_.~-]{1,128}))?$`)
	sectionName  = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)
)

// isChatKey reports whether a config-file key is a chat options scope.
func isChatKey(k string) bool { return chatScopeKey.MatchString(k) }

// ValidServiceName reports whether name may be a chat service's scope (chat.<name> in the
// file; the admin API's live options take the same names).
func ValidServiceName(name string) bool { return name != "" && chatScopeKey.MatchString("chat."+name) }

// parseChatScope decodes one "chat" / "chat.<svc>" object of the config file into o.
func parseChatScope(o ChatOptions, key string, raw json.RawMessage) error {
	m := chatScopeKey.FindStringSubmatch(key)
	if m == nil {
		return fmt.Errorf("%q is not chat or chat.<serviceName>", key)
	}
	sections, err := ParseChatSections(raw)
	if len(sections) > 0 {
		o[m[1]] = sections
	}
	return err
}

// ParseChatSections decodes one scope's object of sections, each an object of options (the
// value of "chat" / "chat.<svc>" in the file, and the body the admin API's live options take).
// A value may be a JSON string, number or boolean; it is kept as its text. What the options
// mean is checked by their owners (chatcore, chatcore/routing), not here. Errors name the
// section and option; the sections that decoded are returned with them.
func ParseChatSections(raw json.RawMessage) (map[string]map[string]string, error) {
	var sections map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &sections); err != nil {
		return nil, fmt.Errorf("want an object of sections, each an object of options: %w", err)
	}
	out := map[string]map[string]string{}
	var errs []error
	for sec, opts := range sections {
		if !sectionName.MatchString(sec) {
			errs = append(errs, fmt.Errorf("section %q: not a section name", sec))
			continue
		}
		for name, v := range opts {
			s, err := scalarText(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %w", sec, name, err))
				continue
			}
			if out[sec] == nil {
				out[sec] = map[string]string{}
			}
			out[sec][name] = s
		}
	}
	return out, errors.Join(errs...)
}

// scalarText renders a JSON string, number or boolean as option text.
func scalarText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", errors.New("empty value")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", err
		}
		return strconv.FormatBool(b), nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", err
		}
		return n.String(), nil
	}
	return "", errors.New("want a string, number or boolean")
}

// LoadChatOptions reads only the chat option scopes of a config file: what a running server
// re-reads on SIGHUP to apply option changes without a restart. Other keys are ignored here
// (they were validated at start and need a restart to change).
func LoadChatOptions(path string) (ChatOptions, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: config file: %w", ErrInvalid, err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("%w: config file %s: not a JSON object: %w", ErrInvalid, path, err)
	}
	o := ChatOptions{}
	var errs []error
	for k, raw := range obj {
		if !isChatKey(k) {
			continue
		}
		if err := parseChatScope(o, k, raw); err != nil {
			errs = append(errs, fmt.Errorf("%w: config file %s: %s: %w", ErrInvalid, path, k, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return o, nil
}
