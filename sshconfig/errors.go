package sshconfig

import (
	"errors"
	"fmt"
)

// ErrInvalid is matched (errors.Is) by every error Resolve returns about
// the configuration itself: a bad line, a file that cannot be read or that
// has unsafe permissions, a bad Input.
var ErrInvalid = errors.New("sshconfig: invalid configuration")

// ErrUnsafeName is matched by the error of a %-token whose value (a host or
// user name given by the caller or a file) would change the meaning of a
// shell command it is pasted into (CVE-2023-51385).
var ErrUnsafeName = invalidf("shell metacharacters in a host or user name")

// Error reports where a configuration went wrong: File and Line say where
// (Line 0 when the error is about the whole file, File "" for Input), Err
// what. It matches ErrInvalid and the cause.
type Error struct {
	File string // the file in error; "" for Input (command-line) options
	Line int    // 1-based; 0 when the error is about the whole file
	Err  error  // what is wrong
}

// Error says where ("sshconfig: FILE line N: ...") and what.
func (e *Error) Error() string {
	switch {
	case e.File == "":
		return fmt.Sprintf("sshconfig: %v", e.Err)
	case e.Line > 0:
		return fmt.Sprintf("sshconfig: %s line %d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("sshconfig: %s: %v", e.File, e.Err)
}

// Unwrap lets errors.Is match ErrInvalid and the cause.
func (e *Error) Unwrap() []error { return []error{ErrInvalid, e.Err} }

// invalid is an error that matches ErrInvalid without repeating its text.
type invalid struct{ err error }

func (e invalid) Error() string        { return e.err.Error() }
func (e invalid) Unwrap() error        { return e.err }
func (e invalid) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, a ...any) error { return invalid{fmt.Errorf(format, a...)} }
