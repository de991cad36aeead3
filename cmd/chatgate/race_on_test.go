//go:build race

package main

// raceEnabled makes the end-to-end tests build the binary with -race when the tests
// themselves run with -race, so the whole wired process is checked for data races.
const raceEnabled = true
