package push

// Hooks for the external fuzz tests.
var ParseRetryAfterForTest = parseRetryAfter
