package interactive

import (
	"sync"

	"golang.org/x/term"
)

// terminal is the local terminal the user types on, put in raw mode for a
// pty session (as OpenSSH's enter_raw_mode does) so that every key,
// Ctrl-C included, goes to the remote program, and restored on every way
// out of the session. Its methods are safe for concurrent use and
// idempotent: the session's end, a signal and a panic may all restore it.
type terminal struct {
	fd int

	mu    sync.Mutex
	saved *term.State // the modes before raw mode; nil while not raw
}

// newTerminal returns the terminal on fd, or nil when fd is negative or not
// a terminal: a nil *terminal does nothing.
func newTerminal(fd int) *terminal {
	if fd < 0 || !term.IsTerminal(fd) {
		return nil
	}
	return &terminal{fd: fd}
}

// makeRaw puts the terminal in raw mode; it does nothing when it already is.
func (t *terminal) makeRaw() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.saved != nil {
		return nil
	}
	st, err := term.MakeRaw(t.fd)
	if err != nil {
		return err
	}
	t.saved = st
	return nil
}

// restore puts back the modes makeRaw found; it does nothing when the
// terminal is not raw.
func (t *terminal) restore() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.saved == nil {
		return nil
	}
	err := term.Restore(t.fd, t.saved)
	t.saved = nil
	return err
}

// restoreOnPanic is deferred by every goroutine that runs while the
// terminal is raw: a panic restores the terminal first, so the user is not
// left with a terminal that shows nothing they type, and then goes on.
func (t *terminal) restoreOnPanic() {
	if r := recover(); r != nil {
		_ = t.restore()
		panic(r)
	}
}

// size returns the terminal's size in characters, or 0, 0 when it is not
// known (OpenSSH sends zeros when TIOCGWINSZ fails).
func (t *terminal) size() (cols, rows int) {
	if t == nil {
		return 0, 0
	}
	c, r, err := term.GetSize(t.fd)
	if err != nil {
		return 0, 0
	}
	return c, r
}
