package interactive

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/libssh-go/libssh/ssh"
)

// errNoSuspend is suspendSelf's answer where there is no job control.
var errNoSuspend = errors.New("suspend is not supported on this system")

// breakLength is the BREAK "~B" sends; OpenSSH sends 1000 ms.
const breakLength = 1000 * time.Millisecond

// escapeRunner carries out the escape commands of a pty session. Its
// messages end in CR LF, because the terminal is raw (no output
// processing), as OpenSSH's do.
type escapeRunner struct {
	ch     *ssh.Channel
	o      Options
	tty    *terminal
	stderr io.Writer
}

// pumpStdin reads Stdin through the escape filter and sends the data to
// the channel, running the commands in between; "~." closes disconnect.
// At Stdin's end (or a read error, as in ssh) it sends EOF. Once finished
// is closed (the session is over) it stops without acting on what it read.
func (e *escapeRunner) pumpStdin(f *escapeFilter, finished <-chan struct{}, disconnect chan<- struct{}) {
	defer e.tty.restoreOnPanic()
	buf := make([]byte, 32<<10)
	for {
		n, rerr := e.o.Stdin.Read(buf)
		select {
		case <-finished:
			return
		default:
		}
		for _, step := range f.feed(buf[:n]) {
			if step.Command == 0 {
				if _, err := e.ch.Write(step.Data); err != nil {
					e.o.Log.Debug("stdin", "err", err)
					return
				}
				continue
			}
			if step.Command == escapeDisconnect {
				// OpenSSH 9.2 queues "~." for stderr but quits before
				// writing it: its user sees only "Connection to HOST closed."
				close(disconnect)
				return
			}
			e.run(step.Command)
		}
		if rerr != nil {
			if err := e.ch.SendEOF(); err != nil {
				e.o.Log.Debug("send EOF", "err", err)
			}
			return
		}
	}
}

// run carries out every command but disconnect.
func (e *escapeRunner) run(cmd escapeCommand) {
	esc := e.o.EscapeChar
	switch cmd {
	case escapeSuspend:
		if !suspendSupported {
			fmt.Fprintf(e.stderr, "%c^Z: %v\r\n", esc, errNoSuspend)
			return
		}
		fmt.Fprintf(e.stderr, "%c^Z [suspend ssh]\r\n", esc)
		if err := suspendSelf(e.tty); err != nil {
			fmt.Fprintf(e.stderr, "suspend: %v\r\n", err)
			return
		}
		// The terminal may have been resized while we were stopped.
		if e.tty != nil {
			if err := e.ch.ChangePtySize(e.tty.size()); err != nil {
				e.o.Log.Debug("window-change", "err", err)
			}
		}
	case escapeBreak:
		fmt.Fprintf(e.stderr, "%cB\r\n", esc)
		if err := e.ch.RequestSendBreak(breakLength); err != nil {
			e.o.Log.Debug("break", "err", err)
		}
	case escapeRekey:
		// x/crypto/ssh has no way for a client to start a key re-exchange;
		// OpenSSH says this much when it cannot either.
		fmt.Fprintf(e.stderr, "%cR\r\nRe-keying on request is not supported.\r\n", esc)
	case escapeListForwards:
		list := "The following connections are open:\n  #0 client-session\n"
		if e.o.ListForwards != nil {
			list = e.o.ListForwards()
		}
		fmt.Fprintf(e.stderr, "%c#\r\n%s", esc, crlf(list))
	case escapeHelp:
		io.WriteString(e.stderr, escapeHelpText(esc))
	}
}

// escapeHelpText is OpenSSH's "~?" text (print_escape_help in
// clientloop.c), in its format, listing the escapes gossh has.
func escapeHelpText(esc int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%c?\r\nSupported escape sequences:\r\n", esc)
	lines := []struct{ cmd, text string }{
		{".", "terminate connection (and any multiplexed sessions)"},
		{"B", "send a BREAK to the remote system"},
		{"^Z", "suspend ssh"},
		{"#", "list forwarded connections"},
		{"?", "this message"},
	}
	for _, l := range lines {
		if l.cmd == "^Z" && !suspendSupported {
			continue
		}
		fmt.Fprintf(&b, " %c%-3s - %s\r\n", esc, l.cmd, l.text)
	}
	fmt.Fprintf(&b, " %c%c   - send the escape character by typing it twice\r\n"+
		"(Note that escapes are only recognized immediately after newline.)\r\n", esc, esc)
	return b.String()
}

// crlf ends every line of s with CR LF, for a raw terminal.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}
