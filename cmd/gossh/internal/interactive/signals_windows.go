//go:build windows

package interactive

import (
	"os"
	"syscall"
)

// quitSignals end the session as they end OpenSSH's client loop: the
// terminal is restored and the command returns 255.
var quitSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// watchWindowSize does nothing on Windows, which has no SIGWINCH; the size
// sent with the pty request stays.
func watchWindowSize(t *terminal, resize func(cols, rows int), stop <-chan struct{}) (done <-chan struct{}) {
	finished := make(chan struct{})
	close(finished)
	return finished
}

// suspendSelf is not available on Windows, which has no job control.
func suspendSelf(t *terminal) error { return errNoSuspend }

// suspendSupported says whether ~^Z can work here.
const suspendSupported = false
