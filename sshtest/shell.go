package sshtest

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// eofChar is ^D, which a terminal in canonical mode turns into end of input.
const eofChar = 0x04

// shell is the program of a "shell" request: it reads lines and runs each
// as a command. "exit [N]" ends it with status N (default: the last
// command's status); end of input ends it with the last command's status; a
// command that ends by signal ends the shell by that signal, since sshd
// delivers signals to the shell process itself.
//
// With a pty the shell plays the terminal too: input is echoed as it
// arrives, CR is read as LF and ^D as end of input, "\n" in output becomes
// "\r\n", and stderr goes to the same output as stdout. There is no prompt.
func (se *session) shell(base ExecContext) int {
	in, stdout, stderr := base.Stdin, base.Stdout, base.Stderr
	if base.Pty != nil {
		stdout = crlfWriter{base.Stdout}
		stderr = stdout
		in = &ttyReader{r: in, echo: stdout}
	}
	lines := bufio.NewReader(in)
	status := 0
	for {
		line, err := lines.ReadString('\n')
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if fields := strings.Fields(line); len(fields) > 0 {
			if fields[0] == "exit" {
				if code, ok := exitCode(fields[1:], status); ok {
					return code
				}
				usage(ExecContext{Stderr: stderr}, "exit [N]")
				status = 2
				continue
			}
			// Commands read the shell's own buffered input, so
			// "cat" gets what follows its line.
			ctx := se.execContext(line, base.exit, lines, stdout, stderr)
			status = se.srv.run(ctx)
			if _, _, _, signaled := base.exit.get(); signaled {
				return status
			}
		}
		if err != nil {
			return status
		}
	}
}

// crlfWriter translates "\n" into "\r\n", as a terminal's ONLCR output mode
// does.
type crlfWriter struct{ w io.Writer }

func (c crlfWriter) Write(p []byte) (int, error) {
	if _, err := c.w.Write(bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ttyReader plays a terminal's input side in canonical mode: it echoes
// input as it arrives, maps CR to LF (ICRNL) and ends input at ^D.
type ttyReader struct {
	r    io.Reader
	echo io.Writer
	eof  bool
}

func (t *ttyReader) Read(p []byte) (int, error) {
	if t.eof {
		return 0, io.EOF
	}
	n, err := t.r.Read(p)
	b := p[:n]
	if i := bytes.IndexByte(b, eofChar); i >= 0 {
		b, t.eof, err = b[:i], true, nil
	}
	for i, c := range b {
		if c == '\r' {
			b[i] = '\n'
		}
	}
	if len(b) > 0 {
		// Echo failures mean the channel is gone; the next read
		// will report it.
		t.echo.Write(b)
	}
	if t.eof && len(b) == 0 {
		return 0, io.EOF
	}
	return len(b), err
}
