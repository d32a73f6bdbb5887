//go:build !linux

package interop

import "os"

// killTree kills p. Start only runs sshd on Linux (it needs /usr/sbin/sshd, root and PAM), so
// other systems have no sshd children to find.
func killTree(p *os.Process) {
	_ = p.Kill()
}
