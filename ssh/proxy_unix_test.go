//go:build unix

package ssh

import (
	"errors"
	"syscall"
)

// processGone reports whether no process (not even a zombie) has this pid.
func processGone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }
