// Package config is chatgate's typed configuration and the one place that decides where a
// setting comes from.
//
// Every setting is a field of Config carrying a `key` tag (its name everywhere: flag
// --<key>, environment variable CHATGATE_<KEY> with dashes as underscores, and the key in a
// JSON config file), a `help` tag, and a default from Default. Because flags, environment,
// file keys, validation messages and the reference table in docs/configuration.md are all
// derived from that one struct, a new field cannot be half-wired: the docs test fails until
// the reference table is regenerated.
//
// Precedence is flag > environment > file > default, applied in that order so a later source
// overrides an earlier one field by field. A config file is strict: an unknown key is an
// error naming the key, because a misspelt key that is silently ignored is a setting the
// operator believes in and does not have. Unknown CHATGATE_* environment variables are only
// reported as warnings: the environment is shared with other tools (test harnesses set
// CHATGATE_BIN, for example) and refusing to start over them would be hostile.
//
// Secrets (admin-token, secrets-key) have type Secret, whose String and LogValue never
// print the value, so a logged Config cannot leak them.
package config
