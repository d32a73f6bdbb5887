// Package prompt asks the user for input on the terminal: passphrases of
// private keys and answers to authentication prompts. It is libssh's
// ssh_getpass (libssh-rs get_input).
//
// Prompts are written to standard error and answers read from standard
// input. When standard input is a terminal, answers that must not be shown
// are read with echo turned off (golang.org/x/term). When it is not (a pipe, a
// file), each answer is one line of it, so scripts and tests can feed answers.
package prompt

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"
)

// ErrMismatch is returned by GetInput and AuthCallback with verify set when
// the two answers differ.
var ErrMismatch = errors.New("prompt: inputs do not match")

// maxLine bounds an answer read from a non-terminal input, so that a stdin
// such as /dev/zero fails instead of filling memory.
const maxLine = 64 << 10

// stdioMu serializes prompts on the process's standard input and error, which
// concurrent callers (several sessions authenticating at once) share.
var stdioMu sync.Mutex

// GetInput writes prompt to standard error and reads one answer from
// standard input. It may be called from several goroutines; the prompts are
// asked one after the other.
//
// When standard input is a terminal and echo is false, the answer is typed
// without being shown. Otherwise the answer is the next line of standard
// input, without its "\n" or "\r\n" (a last line without a newline counts).
// When echo is true and defaultValue is not empty, the prompt shows it as
// "[defaultValue] ", as libssh does.
//
// An empty answer returns defaultValue. With verify, GetInput then asks again
// with "Verifying - " before the prompt, and returns ErrMismatch when the two
// answers (after applying defaultValue) differ.
//
// Errors: end of input before an answer gives an error wrapping io.EOF; other
// read errors are wrapped as they come, and a non-terminal line longer than
// 64 KiB is refused.
func GetInput(prompt, defaultValue string, echo, verify bool) (string, error) {
	stdioMu.Lock()
	defer stdioMu.Unlock()
	return stdio().getInput(prompt, defaultValue, echo, verify)
}

// AuthCallback asks for a passphrase during public-key authentication. It
// has the signature of ssh.AuthCallback, so it can be given to
// Session.SetAuthCallback as it is. When identity (the key file being tried)
// is not empty, the prompt reads "<prompt> (<identity>): ", as in libssh-rs's
// example; otherwise prompt is shown unchanged. The rest is GetInput with no
// default value, and its errors.
func AuthCallback(prompt string, echo, verify bool, identity string) (string, error) {
	if identity != "" {
		prompt = fmt.Sprintf("%s (%s): ", prompt, identity)
	}
	return GetInput(prompt, "", echo, verify)
}

// reader holds where GetInput talks to, so that tests can replace the
// terminal with pipes and fakes.
type reader struct {
	in           io.Reader
	out          io.Writer
	isTerminal   func() bool            // whether in is a terminal
	readPassword func() ([]byte, error) // reads a line from the terminal without echo
}

// stdio returns a reader on the process's standard input and error. It is
// built on every call so that a program that replaces os.Stdin is followed.
func stdio() *reader {
	in := os.Stdin
	fd := int(in.Fd())
	return &reader{
		in:           in,
		out:          os.Stderr,
		isTerminal:   func() bool { return term.IsTerminal(fd) },
		readPassword: func() ([]byte, error) { return term.ReadPassword(fd) },
	}
}

func (r *reader) getInput(prompt, defaultValue string, echo, verify bool) (string, error) {
	if echo && defaultValue != "" {
		prompt += "[" + defaultValue + "] "
	}
	first, err := r.readAnswer(prompt, echo)
	if err != nil {
		return "", err
	}
	if first == "" {
		first = defaultValue
	}
	if !verify {
		return first, nil
	}
	second, err := r.readAnswer("Verifying - "+prompt, echo)
	if err != nil {
		return "", err
	}
	if second == "" {
		second = defaultValue
	}
	if first != second {
		return "", ErrMismatch
	}
	return first, nil
}

// readAnswer shows prompt and reads one answer.
func (r *reader) readAnswer(prompt string, echo bool) (string, error) {
	// A failure to show the prompt (standard error closed) does not stop the
	// user from answering, so it is not an error.
	_, _ = io.WriteString(r.out, prompt)
	if !echo && r.isTerminal() {
		b, err := r.readPassword()
		// The Enter that ended the answer was not echoed either.
		_, _ = io.WriteString(r.out, "\n")
		if err != nil {
			return "", fmt.Errorf("prompt: reading from terminal: %w", err)
		}
		return string(b), nil
	}
	return r.readLine()
}

// readLine reads up to and including the next '\n', one byte at a time: a
// buffered reader would take the lines after it too (the second answer of a
// verify, the next prompt's answer) and lose them when it is dropped.
func (r *reader) readLine() (string, error) {
	var line []byte
	var b [1]byte
	empty := 0 // successive reads that returned nothing
	for {
		n, err := r.in.Read(b[:])
		if n > 0 {
			empty = 0
			if b[0] == '\n' {
				break
			}
			if len(line) >= maxLine {
				return "", fmt.Errorf("prompt: input line longer than %d bytes", maxLine)
			}
			line = append(line, b[0])
		}
		if err == io.EOF && len(line) > 0 {
			break // a last line without a newline
		}
		if err != nil {
			return "", fmt.Errorf("prompt: reading input: %w", err)
		}
		if n == 0 {
			if empty++; empty >= 100 {
				return "", fmt.Errorf("prompt: reading input: %w", io.ErrNoProgress)
			}
		}
	}
	return strings.TrimSuffix(string(line), "\r"), nil
}
