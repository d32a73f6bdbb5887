//go:build unix

package interactive

import (
	"os"
	"os/signal"
	"syscall"
)

// quitSignals end the session as they end OpenSSH's client loop
// (signal_handler in clientloop.c): the terminal is restored and the
// command returns 255.
var quitSignals = []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT}

// watchWindowSize calls resize with the terminal's new size on every
// SIGWINCH until stop is closed, as OpenSSH's client_check_window_change
// sends "window-change". It returns once it has stopped listening.
func watchWindowSize(t *terminal, resize func(cols, rows int), stop <-chan struct{}) (done <-chan struct{}) {
	finished := make(chan struct{})
	if t == nil {
		close(finished)
		return finished
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		defer close(finished)
		defer signal.Stop(winch)
		defer t.restoreOnPanic()
		for {
			select {
			case <-stop:
				return
			case <-winch:
				resize(t.size())
			}
		}
	}()
	return finished
}

// suspendSelf stops this process as a shell's job control would, with the
// terminal restored, and returns once it is continued, with the terminal
// raw again (OpenSSH's client_suspend_self). SIGCONT is watched before
// SIGTSTP is sent, so the wait cannot miss it; waiting for it (rather than
// trusting kill to return after the stop) keeps the terminal from going raw
// again before the process has really stopped.
func suspendSelf(t *terminal) error {
	cont := make(chan os.Signal, 1)
	signal.Notify(cont, syscall.SIGCONT)
	defer signal.Stop(cont)
	if err := t.restore(); err != nil {
		return err
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTSTP); err != nil {
		return err
	}
	<-cont
	return t.makeRaw()
}

// suspendSupported says whether ~^Z can work here.
const suspendSupported = true
