package sftp

import (
	"errors"
	"fmt"
	"io/fs"
)

// Status codes of SSH_FXP_STATUS (draft-ietf-secsh-filexfer-02 §7). Codes
// above 8 come from later drafts; some servers send them anyway.
const (
	StatusOK               uint32 = 0
	StatusEOF              uint32 = 1
	StatusNoSuchFile       uint32 = 2
	StatusPermissionDenied uint32 = 3
	StatusFailure          uint32 = 4
	StatusBadMessage       uint32 = 5
	StatusNoConnection     uint32 = 6
	StatusConnectionLost   uint32 = 7
	StatusOpUnsupported    uint32 = 8
	StatusFileExists       uint32 = 11 // filexfer-13 SSH_FX_FILE_ALREADY_EXISTS
)

var statusNames = map[uint32]string{
	StatusOK: "ok", StatusEOF: "end of file", StatusNoSuchFile: "no such file",
	StatusPermissionDenied: "permission denied", StatusFailure: "failure",
	StatusBadMessage: "bad message", StatusNoConnection: "no connection",
	StatusConnectionLost: "connection lost", StatusOpUnsupported: "operation unsupported",
	StatusFileExists: "file already exists",
}

// StatusError is a request the server answered with an SSH_FXP_STATUS
// other than OK: Code is the SSH_FX code, Message the server's text, Op the
// request ("open", "stat", "rename", ...) and Path the path it concerned
// ("" when none, e.g. for a handle's read).
//
// errors.Is matches it to fs.ErrNotExist (no such file), fs.ErrPermission
// (permission denied), fs.ErrExist (file already exists, or a FAILURE of a
// request creating a name that exists: v3 has no code of its own for that,
// so the client checks with LSTAT) and errors.ErrUnsupported (operation
// unsupported).
type StatusError struct {
	Code    uint32
	Message string
	Op      string
	Path    string

	exists bool // FAILURE of a create whose target exists
}

// Error names the request, the path and the server's answer.
func (e *StatusError) Error() string {
	name := statusNames[e.Code]
	if name == "" {
		name = fmt.Sprintf("status %d", e.Code)
	}
	s := "sftp: " + e.Op
	if e.Path != "" {
		s += " " + e.Path
	}
	s += ": " + name
	if e.Message != "" && e.Message != name {
		s += " (" + e.Message + ")"
	}
	return s
}

// Is matches the fs and errors sentinels that fit the code.
func (e *StatusError) Is(target error) bool {
	switch target {
	case fs.ErrNotExist:
		return e.Code == StatusNoSuchFile
	case fs.ErrPermission:
		return e.Code == StatusPermissionDenied
	case fs.ErrExist:
		return e.Code == StatusFileExists || e.exists
	case errors.ErrUnsupported:
		return e.Code == StatusOpUnsupported
	}
	return false
}

var (
	// ErrProtocol is wrapped by the error of every call once the server
	// broke the protocol: an answer to a request id never sent (or already
	// answered), a packet over the length limit, a malformed packet, or an
	// answer of the wrong type. The Client is then closed: every pending
	// and later call fails with it.
	ErrProtocol = errors.New("sftp: protocol violation")

	// ErrClosed is returned by calls on a Client or File after its Close.
	ErrClosed = errors.New("sftp: closed")

	// ErrServerClosed is wrapped by the error of every call once the server
	// ended the sftp channel (EOF) while the SSH connection itself is
	// alive; a dead connection gives an error matching ssh.ErrDisconnected
	// instead.
	ErrServerClosed = errors.New("sftp: server closed the sftp channel")
)

// unsupported is the error of a call that needs an extension the server did
// not announce.
func unsupported(op, path, ext string) error {
	return &StatusError{Code: StatusOpUnsupported, Message: "server lacks " + ext, Op: op, Path: path}
}
