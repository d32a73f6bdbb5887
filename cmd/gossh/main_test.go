package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// runMainEnv makes the test binary run gossh instead of the tests, so that
// tests start the command as a process (with its own stdin, exit status and
// controlling terminal, or none) without a separate build.
const runMainEnv = "GOSSH_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(gossh(os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}
