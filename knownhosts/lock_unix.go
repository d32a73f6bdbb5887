//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package knownhosts

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive flock(2) on f, waiting for other holders, and
// returns the function that releases it. flock is advisory: it orders the
// writers that take it (this package, in every process),
// while O_APPEND keeps every single write whole anyway.
func lockFile(f *os.File) (unlock func(), err error) {
	fd := int(f.Fd())
	for {
		err = syscall.Flock(fd, syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
	return func() { _ = syscall.Flock(fd, syscall.LOCK_UN) }, nil
}
