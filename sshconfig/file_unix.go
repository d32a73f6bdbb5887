//go:build unix

package sshconfig

import (
	"fmt"
	"os"
	"syscall"
)

// openConfigFile opens a config file without blocking: O_NONBLOCK makes
// opening a FIFO with no writer return at once, and readConfigFile then
// refuses it for not being a regular file.
func openConfigFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// checkConfigOwner is OpenSSH's check on the user's config and included
// files: owned by root or the user, and not writable by group or others.
func checkConfigOwner(fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := int(st.Uid); uid != 0 && uid != os.Getuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("bad owner or permissions (owner uid %d, mode %v): must be owned by you or root and not writable by group or others", st.Uid, fi.Mode().Perm())
	}
	return nil
}
