package scp

import (
	"errors"
	"io"
	"io/fs"
	"strings"
)

// Sentinel errors wrapped by *Error; match them with errors.Is.
var (
	// ErrRemote means the remote scp reported a failure (a \x01 warning
	// or \x02 fatal reply, or a non-zero exit status); Error.Message holds
	// what it said.
	ErrRemote = errors.New("scp: remote error")

	// ErrProtocol means the server sent something the protocol does not
	// allow there: an unknown or malformed record, a record that was not
	// asked for, more data than a file's announced size.
	ErrProtocol = errors.New("scp: protocol error")

	// ErrTruncated means the server's output or the channel ended before
	// the transfer was complete. It also matches io.ErrUnexpectedEOF.
	ErrTruncated = errTruncated{}

	// ErrInvalidName means a file name cannot be carried by the protocol
	// (it contains a newline or NUL, or is empty), or a name the server sent
	// was refused: not a single path element, or not the one requested.
	ErrInvalidName = errors.New("scp: invalid file name")

	// ErrIsDirectory means Put or Get was asked to copy a directory
	// without Recursive.
	ErrIsDirectory = errors.New("scp: is a directory (use Recursive)")
)

type errTruncated struct{}

func (errTruncated) Error() string        { return "scp: transfer truncated" }
func (errTruncated) Is(target error) bool { return target == io.ErrUnexpectedEOF }

// Error is the error Get and Put return: what failed (Op, Path), what the
// remote said if it said anything (Message) and the cause (Err). Its zero
// value is not meaningful; Get and Put fill in Op, Path and Err.
type Error struct {
	// Op is "get" or "put".
	Op string
	// Path is the remote path the call was given.
	Path string
	// Message is the remote scp's own message (from a \x01 or \x02 reply,
	// or its stderr when it exited with a failure status), or a
	// description of what the server sent that was refused. It may be
	// empty.
	Message string
	// Err is the cause: ErrRemote, ErrProtocol, ErrTruncated,
	// ErrInvalidName, ErrIsDirectory, or an underlying error (one matching
	// ssh.ErrDisconnected, ctx's error, a local *fs.PathError, an
	// *ssh.ExitError).
	Err error
}

// Error reads "scp: get PATH: MESSAGE: CAUSE".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("scp: " + e.Op + " " + e.Path)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + strings.TrimPrefix(e.Err.Error(), "scp: "))
	}
	return b.String()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Is makes a remote failure whose message says "No such file or directory"
// match fs.ErrNotExist, and one that says "Permission denied" match
// fs.ErrPermission, as OpenSSH's scp and Dropbear word them.
func (e *Error) Is(target error) bool {
	if !errors.Is(e.Err, ErrRemote) {
		return false
	}
	switch target {
	case fs.ErrNotExist:
		return strings.Contains(e.Message, "No such file or directory")
	case fs.ErrPermission:
		return strings.Contains(e.Message, "Permission denied")
	case fs.ErrExist:
		return strings.Contains(e.Message, "File exists")
	}
	return false
}
