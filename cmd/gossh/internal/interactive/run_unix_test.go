//go:build unix

package interactive

import (
	"syscall"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
)

// SIGTERM (and SIGINT, SIGHUP, SIGQUIT) ends the session with 255 as it
// ends ssh, instead of killing the process with the terminal raw.
func TestRunQuitSignal(t *testing.T) {
	sh := newEscapeShell()
	_, s := connect(t, sshtest.Config{Shell: sh.serve})
	type result struct {
		code int
		err  error
	}
	res := make(chan result, 1)
	go func() {
		code, err := Run(t.Context(), s, Options{StdinFd: -1, Stdin: blockedStdin(t)})
		res <- result{code, err}
	}()
	// The shell runs only after Run watches the signals.
	<-sh.started
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-res:
		if r.code != 255 || r.err != nil {
			t.Fatalf("Run = %d, %v; want 255, nil", r.code, r.err)
		}
	case <-time.After(time.Minute):
		t.Fatal("SIGTERM did not end the session")
	}
	sh.input(t)
}
