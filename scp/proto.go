package scp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libssh-go/libssh/ssh"
)

// maxLine bounds one protocol line (a record or a message): a name is at
// most 255 bytes on common file systems, so 8 KiB is plenty and keeps a
// server from making a line of unbounded length.
const maxLine = 8 << 10

// maxStderr is how much of the remote's stderr is kept for error messages.
const maxStderr = 4 << 10

// quote returns s single-quoted for a POSIX shell: every byte stands for
// itself; each ' closes the quotes, is escaped with a backslash and reopens them.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// checkSendable refuses names the protocol or the command line cannot
// carry.
func checkSendable(name string) error {
	if name == "" || strings.ContainsAny(name, "\n\x00") {
		return ErrInvalidName
	}
	return nil
}

// command builds the remote command line: "scp -f|-t [-r] [-p] -- 'path'".
func command(mode string, c config, remote string) string {
	var b strings.Builder
	b.WriteString("scp " + mode)
	if c.recursive {
		b.WriteString(" -r")
	}
	if c.preserve {
		b.WriteString(" -p")
	}
	b.WriteString(" -- " + quote(remote))
	return b.String()
}

// session is one running remote scp: its channel, a buffered reader of its
// output and what it wrote to stderr.
type session struct {
	ctx  context.Context
	ch   *ssh.Channel
	r    *bufio.Reader
	stop func() bool

	errMu   sync.Mutex
	errBuf  bytes.Buffer
	errDone chan struct{}
}

// start opens a session channel on s and runs command on it. The channel
// closes when ctx ends, which ends every wait on it.
func start(ctx context.Context, s *ssh.Session, command string) (*session, error) {
	if s == nil {
		return nil, errors.New("scp: nil *ssh.Session")
	}
	ch, err := s.NewChannel()
	if err != nil {
		return nil, err
	}
	if err := ch.OpenSession(ctx); err != nil {
		_ = ch.Close()
		return nil, err
	}
	if err := ch.RequestExec(ctx, command); err != nil {
		_ = ch.Close()
		return nil, err
	}
	ss := &session{ctx: ctx, ch: ch, r: bufio.NewReaderSize(ch.Stdout(), 64<<10), errDone: make(chan struct{})}
	ss.stop = context.AfterFunc(ctx, func() { _ = ch.Close() })
	go ss.drainStderr()
	return ss, nil
}

// drainStderr keeps the first maxStderr bytes of stderr and discards the
// rest, so an unread stderr never stalls the channel. It ends with the
// channel.
func (ss *session) drainStderr() {
	defer close(ss.errDone)
	buf := make([]byte, 4<<10)
	for {
		n, err := ss.ch.Stderr().Read(buf)
		if n > 0 {
			ss.errMu.Lock()
			if room := maxStderr - ss.errBuf.Len(); room > 0 {
				ss.errBuf.Write(buf[:min(n, room)])
			}
			ss.errMu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// stderr returns what the remote wrote to stderr so far, trimmed.
func (ss *session) stderr() string {
	ss.errMu.Lock()
	defer ss.errMu.Unlock()
	return strings.TrimSpace(ss.errBuf.String())
}

// close closes the channel and waits for the stderr reader.
func (ss *session) close() {
	ss.stop()
	_ = ss.ch.Close()
	<-ss.errDone
}

// ioErr turns an error of the channel into the one to report: ctx's error
// when ctx ended (the channel was closed for that), ErrTruncated for an
// early EOF, otherwise the error itself (one matching ssh.ErrDisconnected
// when the connection ended).
func (ss *session) ioErr(err error) error {
	if err == nil {
		return nil
	}
	if cerr := ss.ctx.Err(); cerr != nil {
		return cerr
	}
	if errors.Is(err, io.EOF) || (errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ssh.ErrDisconnected)) {
		return ErrTruncated
	}
	if errors.Is(err, ssh.ErrChannelClosed) && !ss.ch.IsClosed() {
		// The server closed the channel: the remote scp ended early.
		return fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	return err
}

// readLine reads one line of at most maxLine bytes, without its newline.
func (ss *session) readLine() (string, error) {
	var line []byte
	for {
		b, err := ss.r.ReadByte()
		if err != nil {
			return "", ss.ioErr(err)
		}
		if b == '\n' {
			return string(line), nil
		}
		if len(line) >= maxLine {
			return "", protoErr("line longer than %d bytes", maxLine)
		}
		line = append(line, b)
	}
}

// write sends p to the remote scp. When that fails because the remote
// ended, the reason it gave before (a \x01 or \x02 reply waiting to be
// read) is the error.
func (ss *session) write(p []byte) error {
	if _, err := ss.ch.Write(p); err != nil {
		return ss.whyEnded(err)
	}
	return nil
}

// whyEnded returns the remote's last message if one is waiting to be read
// after a failed write, or the write's error. The read does not wait: the
// channel is closed or the connection gone.
func (ss *session) whyEnded(err error) error {
	if ss.ctx.Err() == nil && !errors.Is(err, ssh.ErrDisconnected) {
		var re *remoteErr
		if rerr := ss.readAck(); errors.As(rerr, &re) {
			return re
		}
	}
	return ss.ioErr(err)
}

// ack sends the one-byte "OK" reply.
func (ss *session) ack() error { return ss.write([]byte{0}) }

// remoteErr is a \x01 or \x02 reply of the remote scp.
type remoteErr struct {
	msg   string
	fatal bool
}

func (e *remoteErr) Error() string { return e.msg }
func (e *remoteErr) Unwrap() error { return ErrRemote }

// readAck reads a reply: nil for OK, a *remoteErr for a warning (\x01) or a
// fatal error (\x02), ErrProtocol for anything else.
func (ss *session) readAck() error {
	b, err := ss.r.ReadByte()
	if err != nil {
		return ss.ioErr(err)
	}
	switch b {
	case 0:
		return nil
	case 1, 2:
		msg, err := ss.readLine()
		if err != nil {
			return err
		}
		return &remoteErr{msg: cleanMessage(msg), fatal: b == 2}
	}
	return protoErr("unexpected reply byte %#02x", b)
}

// cleanMessage makes a remote message safe to print: control characters
// become '?', so a server cannot drive the caller's terminal.
func cleanMessage(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, strings.TrimSpace(s))
}

// protoError is a protocol violation with its description.
type protoError struct{ msg string }

func (e *protoError) Error() string { return e.msg }
func (e *protoError) Unwrap() error { return ErrProtocol }

func protoErr(format string, args ...any) error {
	return &protoError{msg: cleanMessage(fmt.Sprintf(format, args...))}
}

// nameError is a refused name with the reason.
type nameError struct{ msg string }

func (e *nameError) Error() string { return e.msg }
func (e *nameError) Unwrap() error { return ErrInvalidName }

// wait waits for the remote scp's exit status after its output ended. A
// non-zero status is an ErrRemote failure carrying stderr.
func (ss *session) wait() error {
	status, err := ss.ch.ExitStatus(ss.ctx)
	if err != nil {
		return ss.ioErr(err)
	}
	if status != 0 {
		<-ss.errDone // stderr ends with the channel, which ends after the exit status
		msg := ss.stderr()
		if msg == "" {
			msg = "remote scp exited with status " + strconv.Itoa(status)
		}
		return &remoteErr{msg: cleanMessage(msg)}
	}
	return nil
}

// wrap builds the *Error returned to the caller from a cause.
func wrap(op, path string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Path: path, Err: err}
	var re *remoteErr
	var pe *protoError
	var ne *nameError
	switch {
	case errors.As(err, &re):
		e.Message, e.Err = re.msg, ErrRemote
	case errors.As(err, &pe):
		e.Message, e.Err = pe.msg, ErrProtocol
	case errors.As(err, &ne):
		e.Message, e.Err = ne.msg, ErrInvalidName
	}
	return e
}

// timeRecord is a parsed T record: modification and access times.
type timeRecord struct {
	mtime, atime time.Time
}

// parseTime parses "T<mtime> <usec> <atime> <usec>" without the T.
func parseTime(s string) (timeRecord, error) {
	f := strings.Split(s, " ")
	if len(f) != 4 {
		return timeRecord{}, protoErr("malformed time record %q", "T"+s)
	}
	var v [4]int64
	for i, x := range f {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil || n < 0 || (i%2 == 1 && n > 999999) || (i%2 == 0 && n > 1<<40) {
			return timeRecord{}, protoErr("malformed time record %q", "T"+s)
		}
		v[i] = n
	}
	return timeRecord{mtime: time.Unix(v[0], v[1]*1000), atime: time.Unix(v[2], v[3]*1000)}, nil
}

// fileRecord is a parsed C or D record.
type fileRecord struct {
	mode uint32 // permission bits (07777)
	size int64
	name string
}

// parseFile parses "<mode> <size> <name>" (after C or D) and checks the
// name: one path element, not "." or "..".
func parseFile(kind byte, s string) (fileRecord, error) {
	modeStr, rest, ok1 := strings.Cut(s, " ")
	sizeStr, name, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || len(modeStr) < 1 || len(modeStr) > 5 {
		return fileRecord{}, protoErr("malformed record %q", string(kind)+s)
	}
	mode, err := strconv.ParseUint(modeStr, 8, 32)
	if err != nil || mode > 07777 {
		return fileRecord{}, protoErr("malformed mode in record %q", string(kind)+s)
	}
	size, err := strconv.ParseInt(sizeStr, 10, 64)
	if err != nil || size < 0 {
		return fileRecord{}, protoErr("malformed size in record %q", string(kind)+s)
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") ||
		isWindows && strings.ContainsAny(name, `\:`) {
		return fileRecord{}, &nameError{msg: fmt.Sprintf("server sent the name %q, which is not a single file name", cleanMessage(name))}
	}
	return fileRecord{mode: uint32(mode), size: size, name: name}, nil
}
