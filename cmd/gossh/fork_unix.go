//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// forkEnv tells a re-executed gossh that it is the background half of -f
// and which descriptor reports "authenticated" to the foreground half.
const forkEnv = "GOSSH_FORK_READY_FD"

func isForkedChild() bool { return os.Getenv(forkEnv) != "" }

// forkParent is -f (ForkAfterAuthentication). A Go program cannot fork
// with a live connection, so gossh runs itself again in the background
// with the same arguments and waits: the child connects, asks its
// questions on the terminal, authenticates and sets up its forwards, then
// reports on a pipe and leaves the terminal's session (setsid), and this
// process exits 0, as ssh's parent does after fork(). If the child ends
// before that, its status is ours.
func (r *runner) forkParent() int {
	self, err := os.Executable()
	if err != nil {
		return r.fail(fmt.Errorf("cannot fork into background: %w", err))
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return r.fail(err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return r.fail(err)
	}
	defer devnull.Close()
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Stdin = devnull // -f implies -n
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{pw}
	cmd.Env = append(os.Environ(), forkEnv+"=3")
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return r.fail(fmt.Errorf("cannot fork into background: %w", err))
	}
	pw.Close()
	buf := make([]byte, 1)
	n, _ := pr.Read(buf)
	pr.Close()
	if n == 1 {
		_ = cmd.Process.Release()
		return 0
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return r.fail(err)
	}
	return exitFailure
}

// forkReady is called by the background child once authenticated and
// forwarding: it detaches from the terminal and releases the parent.
func forkReady() {
	v := os.Getenv(forkEnv)
	if v == "" {
		return
	}
	_ = os.Unsetenv(forkEnv)
	_, _ = syscall.Setsid()
	f := os.NewFile(3, "fork-ready")
	if f == nil {
		return
	}
	_, _ = f.Write([]byte{1})
	_ = f.Close()
}
