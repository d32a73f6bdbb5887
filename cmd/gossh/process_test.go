//go:build unix

package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// result is what a gossh or ssh process did.
type result struct {
	stdout, stderr string
	code           int
}

// gosshCmd returns a command running gossh (this test binary in gossh
// mode) with args, in its own session, so that it has no controlling
// terminal and its prompts fall back to stdin and stderr, as ssh's do.
// The environment is the test's without SSH_AUTH_SOCK.
func gosshCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(cleanEnv(), runMainEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

// cleanEnv is the environment without an agent.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSH_AUTH_SOCK=") && !strings.HasPrefix(kv, runMainEnv+"=") {
			env = append(env, kv)
		}
	}
	return env
}

// run runs cmd with stdin and returns what it did.
func run(t *testing.T, cmd *exec.Cmd, stdin string) result {
	t.Helper()
	var out, errb bytes.Buffer
	if cmd.Stdin == nil {
		cmd.Stdin = strings.NewReader(stdin)
	}
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return result{out.String(), errb.String(), code}
}

// runGossh runs gossh with args and stdin.
func runGossh(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return run(t, gosshCmd(t, args...), stdin)
}

var _ = io.Discard
