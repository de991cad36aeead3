package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts every environment variable chatgate reads.
const EnvPrefix = "CHATGATE_"

// ConfigEnv names the config file when --config is not given.
const ConfigEnv = EnvPrefix + "CONFIG"

// Field describes one setting: its key, the environment variable that sets it, its kind
// and documentation. Fields is the single list every source is derived from.
type Field struct {
	Key  string
	Env  string
	Kind string // "string", "duration", "int", "bool", "list", "secret"
	Help string
	idx  int
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
	listType     = reflect.TypeFor[[]string]()
)

// Fields lists every setting in declaration order.
func Fields() []Field {
	t := reflect.TypeFor[Config]()
	out := make([]Field, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		key := sf.Tag.Get("key")
		if key == "" {
			continue
		}
		out = append(out, Field{Key: key, Env: EnvName(key), Kind: kindOf(sf.Type), Help: sf.Tag.Get("help"), idx: i})
	}
	return out
}

// EnvName is the environment variable for key: CHATGATE_ + upper case, dashes as
// underscores.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

func kindOf(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t == secretType:
		return "secret"
	case t == listType:
		return "list"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int64:
		return "int"
	}
	panic("config: unsupported field type " + t.String())
}

// set parses s into f's field of c. Lists are comma-separated; blanks are dropped.
func (f Field) set(c *Config, s string) error {
	v := reflect.ValueOf(c).Elem().Field(f.idx)
	switch f.Kind {
	case "string", "secret":
		v.SetString(strings.TrimSpace(s))
	case "duration":
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a duration like 30s or 1500ms", s)
		}
		v.SetInt(int64(d))
	case "int":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || v.OverflowInt(n) {
			return fmt.Errorf("%q is not an integer", s)
		}
		v.SetInt(n)
	case "bool":
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a boolean (true or false)", s)
		}
		v.SetBool(b)
	case "list":
		var items []string
		for p := range strings.SplitSeq(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
		v.Set(reflect.ValueOf(items))
	}
	return nil
}

// setJSON sets f from a config file value. Durations are strings ("30s"); lists are arrays
// of strings or one comma-separated string.
func (f Field) setJSON(c *Config, raw json.RawMessage) error {
	v := reflect.ValueOf(c).Elem().Field(f.idx)
	switch f.Kind {
	case "string", "secret", "duration":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			if f.Kind == "duration" {
				return fmt.Errorf("want a duration string like \"30s\", got %s", raw)
			}
			return fmt.Errorf("want a string, got %s", trimRaw(raw, f.Kind))
		}
		return f.set(c, s)
	case "int":
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil || v.OverflowInt(n) {
			return fmt.Errorf("want an integer, got %s", raw)
		}
		v.SetInt(n)
	case "bool":
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return fmt.Errorf("want true or false, got %s", raw)
		}
		v.SetBool(b)
	case "list":
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			return f.set(c, s)
		}
		var items []string
		if err := json.Unmarshal(raw, &items); err != nil {
			return fmt.Errorf("want an array of strings, got %s", raw)
		}
		return f.set(c, strings.Join(items, ","))
	}
	return nil
}

// trimRaw keeps secrets out of error messages.
func trimRaw(raw json.RawMessage, kind string) string {
	if kind == "secret" {
		return "a non-string value"
	}
	return string(raw)
}

// Result is a loaded configuration with the notes worth logging once a logger exists.
type Result struct {
	Config Config
	// File is the config file read, or "".
	File string
	// Warnings are non-fatal findings (unknown CHATGATE_* variables).
	Warnings []string
}

// Load builds the configuration from args (without the program name), the environment
// (os.Environ format) and the config file named by --config or CHATGATE_CONFIG, then
// validates it. Precedence: flag > environment > file > default. With -h or --help it
// writes usage to usage and returns an error wrapping flag.ErrHelp.
func Load(args, environ []string, usage io.Writer) (Result, error) {
	fields := Fields()
	fs := flag.NewFlagSet("chatgate", flag.ContinueOnError)
	fs.SetOutput(usage)
	configPath := fs.String("config", "", "JSON config file (keys as below; env "+ConfigEnv+")")
	def := Default()
	type flagValue struct {
		raw string
		set bool
	}
	flagged := make([]flagValue, len(fields))
	for i, f := range fields {
		fs.Var(&fieldFlag{f: f, kind: f.Kind, def: defaultString(def, f), store: func(s string) error {
			// Parse now so a bad flag is reported by the flag package with its name.
			var probe Config
			if err := f.set(&probe, s); err != nil {
				return err
			}
			flagged[i] = flagValue{raw: s, set: true}
			return nil
		}}, f.Key, f.Help+" (env "+f.Env+")")
	}
	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage: chatgate [flags]\n       chatgate healthcheck [--addr host:port]\n\nEvery flag can also be set as an environment variable or a config file key; see docs/configuration.md.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Result{}, err
	}
	if fs.NArg() > 0 {
		return Result{}, fmt.Errorf("%w: unexpected argument %q", ErrInvalid, fs.Arg(0))
	}

	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}

	res := Result{Config: def, File: *configPath}
	if res.File == "" {
		res.File = env[ConfigEnv]
	}
	if res.File != "" {
		if err := loadFile(&res.Config, res.File); err != nil {
			return Result{}, err
		}
	}

	var errs []error
	known := map[string]bool{ConfigEnv: true}
	for _, f := range fields {
		known[f.Env] = true
		if s, ok := env[f.Env]; ok {
			if err := f.set(&res.Config, s); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s (env %s): %w", ErrInvalid, f.Key, f.Env, err))
			}
		}
	}
	var unknown []string
	for k := range env {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		res.Warnings = append(res.Warnings, fmt.Sprintf("environment variable %s is not a chatgate setting; ignored", k))
	}

	for i, f := range fields {
		if flagged[i].set {
			// Already parsed once by the flag package, so this cannot fail.
			_ = f.set(&res.Config, flagged[i].raw)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}
	if err := res.Config.Validate(); err != nil {
		return Result{}, err
	}
	return res, nil
}

// loadFile applies a JSON object of key → value. Unknown keys and type mismatches are errors
// naming the key; all of them are reported at once.
func loadFile(c *Config, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: config file: %w", ErrInvalid, err)
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&obj); err != nil {
		return fmt.Errorf("%w: config file %s: not a JSON object: %w", ErrInvalid, path, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: config file %s: data after the JSON object", ErrInvalid, path)
	}
	byKey := map[string]Field{}
	for _, f := range Fields() {
		byKey[f.Key] = f
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []error
	for _, k := range keys {
		if isChatKey(k) {
			if c.Chat == nil {
				c.Chat = ChatOptions{}
			}
			if err := parseChatScope(c.Chat, k, obj[k]); err != nil {
				errs = append(errs, fmt.Errorf("%w: config file %s: %s: %w", ErrInvalid, path, k, err))
			}
			continue
		}
		f, ok := byKey[k]
		if !ok {
			errs = append(errs, fmt.Errorf("%w: config file %s: unknown key %q", ErrInvalid, path, k))
			continue
		}
		if err := f.setJSON(c, obj[k]); err != nil {
			errs = append(errs, fmt.Errorf("%w: config file %s: %s: %w", ErrInvalid, path, k, err))
		}
	}
	return errors.Join(errs...)
}

// defaultString renders f's default for usage and docs.
func defaultString(c Config, f Field) string {
	v := reflect.ValueOf(c).Field(f.idx)
	switch f.Kind {
	case "duration":
		return time.Duration(v.Int()).String()
	case "list":
		return strings.Join(v.Interface().([]string), ",")
	case "secret":
		return ""
	}
	return fmt.Sprint(v.Interface())
}

// fieldFlag adapts a Field to flag.Value; bool fields accept a bare --flag.
type fieldFlag struct {
	f     Field
	kind  string
	def   string
	store func(string) error
}

func (v *fieldFlag) String() string {
	if v == nil {
		return ""
	}
	return v.def
}
func (v *fieldFlag) Set(s string) error { return v.store(s) }
func (v *fieldFlag) IsBoolFlag() bool   { return v != nil && v.kind == "bool" }
