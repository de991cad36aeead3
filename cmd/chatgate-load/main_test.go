package main

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	runChildIfAsked()
	goleak.VerifyTestMain(m)
}

// The -procs path re-executes the test binary; with this variable set, the child is a worker
// (it parses the load flags instead of the test flags).
const childEnv = "CHATGATE_LOAD_TEST_CHILD"

func runChildIfAsked() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	if err := mainErr(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
