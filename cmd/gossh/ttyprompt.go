package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"
)

// maxAnswer bounds one answer read from a non-terminal, so that a stdin
// such as /dev/zero fails instead of filling memory.
const maxAnswer = 64 << 10

// errNoPrompt is returned when a question would be asked in batch mode.
var errNoPrompt = errors.New("prompting is disabled (BatchMode)")

// prompter asks the user questions where ssh does (OpenSSH's
// readpassphrase without RPP_REQUIRE_TTY): on the controlling terminal,
// /dev/tty, so that the session's stdin and stdout stay untouched; when there
// is no controlling terminal, the question goes to stderr and the answer is
// one line of stdin.
type prompter struct {
	mu     sync.Mutex
	batch  bool      // BatchMode: never ask
	stdin  io.Reader // fallback input
	stderr io.Writer // fallback output
	// openTTY opens the controlling terminal; tests replace it.
	openTTY func() (*os.File, error)
}

func newPrompter(batch bool, stdin io.Reader, stderr io.Writer) *prompter {
	return &prompter{batch: batch, stdin: stdin, stderr: stderr, openTTY: func() (*os.File, error) {
		return os.OpenFile("/dev/tty", os.O_RDWR, 0)
	}}
}

// ask shows question (already made safe to print) and returns the answer
// without its line ending. With echo false the answer is not shown as it
// is typed on a terminal.
func (p *prompter) ask(question string, echo bool) (string, error) {
	if p.batch {
		return "", errNoPrompt
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if tty, err := p.openTTY(); err == nil {
		defer tty.Close()
		fmt.Fprint(tty, question)
		if !echo && term.IsTerminal(int(tty.Fd())) {
			b, err := term.ReadPassword(int(tty.Fd()))
			fmt.Fprint(tty, "\n")
			return string(b), err
		}
		return readLine(tty)
	}
	fmt.Fprint(p.stderr, question)
	if f, ok := p.stdin.(*os.File); ok && !echo && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprint(p.stderr, "\n")
		return string(b), err
	}
	return readLine(p.stdin)
}

// readLine reads one line a byte at a time, so that nothing after it is
// taken from a stdin the remote command will read next.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return strings.TrimSuffix(b.String(), "\r"), nil
			}
			if b.Len() >= maxAnswer {
				return "", errors.New("answer too long")
			}
			b.WriteByte(buf[0])
		}
		if err == io.EOF {
			if b.Len() > 0 {
				return b.String(), nil
			}
			return "", io.ErrUnexpectedEOF
		}
		if err != nil {
			return "", err
		}
	}
}
