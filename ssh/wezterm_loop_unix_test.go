//go:build unix

package ssh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/interop"
	"golang.org/x/sys/unix"
)

// A port of wezterm-ssh's session loop: one goroutine, a non-blocking
// session, poll(2) on Fd, and every channel advanced one step per wake-up
// through calls that answer ErrAgain when they would wait.

type loopJob struct {
	command    string
	pty        bool
	stdin      []byte
	check      func(t *testing.T, out, errOut []byte, status int)
	ch         *Channel
	state      int
	fed        int
	eofSent    bool
	out, err   bytes.Buffer
	outEOF     bool
	errEOF     bool
	status     int
	statusDone bool
}

const (
	jobNew = iota
	jobOpening
	jobPty
	jobExec
	jobRunning
	jobDone
)

// stepJob advances one job as far as it can without waiting.
func stepJob(t *testing.T, s *Session, j *loopJob) {
	ctx := context.Background()
	again := func(err error) bool {
		if err != nil && !errors.Is(err, ErrAgain) {
			t.Fatalf("%s: %v", j.command, err)
		}
		return errors.Is(err, ErrAgain)
	}
	for {
		switch j.state {
		case jobNew:
			ch, err := s.NewChannel()
			if err != nil {
				t.Fatal(err)
			}
			j.ch, j.state = ch, jobOpening
		case jobOpening:
			if again(j.ch.OpenSession(ctx)) {
				return
			}
			j.state = jobExec
			if j.pty {
				j.state = jobPty
			}
		case jobPty:
			if again(j.ch.RequestPty(ctx, "xterm", 80, 24)) {
				return
			}
			j.state = jobExec
		case jobExec:
			var err error
			if j.command == "" {
				err = j.ch.RequestShell(ctx)
			} else {
				err = j.ch.RequestExec(ctx, j.command)
			}
			if again(err) {
				return
			}
			j.state = jobRunning
		case jobRunning:
			// stdin in small pieces, as a terminal would type it
			for j.fed < len(j.stdin) {
				piece := j.stdin[j.fed:min(j.fed+4096, len(j.stdin))]
				n, err := j.ch.Write(piece)
				j.fed += n
				if again(err) || n < len(piece) {
					break
				}
			}
			if j.fed == len(j.stdin) && !j.eofSent && !j.pty {
				if again(j.ch.SendEOF()) {
					return
				}
				j.eofSent = true
			}
			buf := make([]byte, 16<<10)
			for _, st := range []struct {
				stderr bool
				eof    *bool
				dst    *bytes.Buffer
			}{{false, &j.outEOF, &j.out}, {true, &j.errEOF, &j.err}} {
				for !*st.eof {
					var n int
					var err error
					if st.stderr {
						n, err = j.ch.Stderr().Read(buf)
					} else {
						n, err = j.ch.Read(buf)
					}
					st.dst.Write(buf[:n])
					if err == io.EOF {
						*st.eof = true
						break
					}
					if again(err) {
						break
					}
				}
			}
			if !j.outEOF || !j.errEOF {
				return
			}
			status, err := j.ch.ExitStatus(ctx)
			if errors.Is(err, ErrAgain) {
				return
			}
			if err != nil {
				t.Fatalf("%s: exit: %v", j.command, err)
			}
			j.status, j.statusDone, j.state = status, true, jobDone
			_ = j.ch.Close()
		case jobDone:
			return
		}
	}
}

func runLoop(t *testing.T, s *Session, jobs []*loopJob) {
	s.SetBlocking(false)
	defer s.SetBlocking(true)
	fd := int32(s.Fd())
	deadline := time.Now().Add(60 * time.Second)
	wakeups := 0
	for {
		done := true
		for _, j := range jobs {
			stepJob(t, s, j)
			done = done && j.state == jobDone
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the loop did not finish in time")
		}
		_, _ = s.PollState() // consumes the wake-up, as wezterm's loop does each turn
		fds := []unix.PollFd{{Fd: fd, Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, 5000); err != nil && !errors.Is(err, unix.EINTR) {
			t.Fatal(err)
		}
		wakeups++
	}
	t.Logf("%d jobs finished after %d wake-ups", len(jobs), wakeups)
	for _, j := range jobs {
		j.check(t, j.out.Bytes(), j.err.Bytes(), j.status)
	}
}

func loopJobs(catInput []byte, shellCommand, shellMarker string, bigCommand string, bigSize int) []*loopJob {
	return []*loopJob{
		{command: "cat", stdin: catInput, check: func(t *testing.T, out, _ []byte, status int) {
			if !bytes.Equal(out, catInput) || status != 0 {
				t.Errorf("cat: %d bytes back of %d, status %d", len(out), len(catInput), status)
			}
		}},
		{command: bigCommand, check: func(t *testing.T, out, _ []byte, status int) {
			if len(out) != bigSize || status != 0 {
				t.Errorf("big output: %d bytes, status %d", len(out), status)
			}
		}},
		{pty: true, stdin: []byte(shellCommand), check: func(t *testing.T, out, _ []byte, status int) {
			if !strings.Contains(string(out), shellMarker) || status != 2 {
				t.Errorf("pty shell: %q, status %d", out, status)
			}
		}},
	}
}

func TestWeztermLoopAgainstTestServer(t *testing.T) {
	s, _ := loggedIn(t)
	input := bytes.Repeat([]byte("wezterm feeds stdin in pieces\n"), 4000)
	jobs := loopJobs(input, "echo from-the-pty\nexit 2\n", "from-the-pty", "yes 3000000", 3000000)
	jobs = append(jobs, &loopJob{command: "both to-out to-err", check: func(t *testing.T, out, errOut []byte, status int) {
		if string(out) != "to-out\n" || string(errOut) != "to-err\n" || status != 0 {
			t.Errorf("both: %q %q %d", out, errOut, status)
		}
	}}, &loopJob{command: "exit 5", check: func(t *testing.T, _, _ []byte, status int) {
		if status != 5 {
			t.Errorf("exit 5 gave %d", status)
		}
	}})
	runLoop(t, s, jobs)
}

func TestWeztermLoopAgainstOpenSSH(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	env.SkipWithoutPTY(t)
	s := interopLoggedIn(t, env)
	input := bytes.Repeat([]byte("wezterm feeds stdin in pieces\n"), 4000)
	jobs := loopJobs(input, "echo TERM=$TERM\nexit 2\n", "TERM=xterm", "head -c 3000000 /dev/zero", 3000000)
	jobs = append(jobs, &loopJob{command: "echo o; echo e >&2; exit 4", check: func(t *testing.T, out, errOut []byte, status int) {
		if string(out) != "o\n" || string(errOut) != "e\n" || status != 4 {
			t.Errorf("streams: %q %q %d", out, errOut, status)
		}
	}})
	runLoop(t, s, jobs)
}
