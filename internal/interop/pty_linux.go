package interop

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// ptyProblem returns why a server running as the current user could not allocate a
// pseudo-terminal, or "" if it can. sshd and Dropbear (pty_setowner) chown a new terminal to
// the user and group tty; only root may change the group, so as an ordinary user this works
// only when devpts already gives new terminals group tty (mount option gid=5, as a normal
// Debian boot mounts it). Otherwise the server's connection process exits on the pty-req.
func ptyProblem() string {
	if os.Geteuid() == 0 {
		return ""
	}
	tty, err := user.LookupGroup("tty")
	if err != nil {
		return "" // the servers then use the user's own group, which needs no root
	}
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Sprintf("cannot open /dev/ptmx: %v", err)
	}
	defer unix.Close(fd)
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		return fmt.Sprintf("TIOCGPTN: %v", err)
	}
	name := "/dev/pts/" + strconv.FormatUint(uint64(n), 10)
	fi, err := os.Stat(name)
	if err != nil {
		return err.Error()
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && strconv.FormatUint(uint64(st.Gid), 10) != tty.Gid {
		return fmt.Sprintf("devpts gives new terminals group %d, not tty (%s), and only root can change it (mount devpts with gid=%s)", st.Gid, tty.Gid, tty.Gid)
	}
	return ""
}
