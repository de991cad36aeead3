//go:build race

package feed

// raceEnabled sizes the exported day down under the race detector (docs/workflow.md "Tests").
const raceEnabled = true
