//go:build windows

package knownhosts

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockFile takes an exclusive LockFileEx lock on f, waiting for other
// holders, and returns the function that releases it. Windows locks are
// mandatory for the locked range, so the lock covers one byte far beyond
// any real end of file: it orders the appenders without blocking readers
// of the actual content.
func lockFile(f *os.File) (unlock func(), err error) {
	h := windows.Handle(f.Fd())
	ol := &windows.Overlapped{Offset: 0xFFFFFFFE, OffsetHigh: 0x7FFFFFFF}
	if err := windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, ol); err != nil {
		return nil, &os.PathError{Op: "LockFileEx", Path: f.Name(), Err: err}
	}
	return func() {
		_ = windows.UnlockFileEx(h, 0, 1, 0, &windows.Overlapped{Offset: 0xFFFFFFFE, OffsetHigh: 0x7FFFFFFF})
	}, nil
}
