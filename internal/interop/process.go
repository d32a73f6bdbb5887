package interop

import (
	"os/exec"
)

// process is a started command whose exit is observed by one goroutine, so that callers can
// both wait for it with a deadline and notice an early exit.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd.Wait has returned
	err  error         // cmd.Wait's result, valid once done is closed
}

// startProcess starts cmd. cmd must not use pipes that need copying goroutines (its Stdout and
// Stderr are nil or *os.File), so Wait returns as soon as the process is gone even if its
// children keep the files open.
func startProcess(cmd *exec.Cmd) (*process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop kills the process and its descendants and waits until the process is reaped.
func (p *process) stop() {
	if !p.exited() {
		killTree(p.cmd.Process)
	}
	<-p.done
}
