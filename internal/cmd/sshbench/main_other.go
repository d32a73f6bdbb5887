//go:build !linux

package main

import (
	"fmt"
	"os"
	"runtime"
)

// run refuses: the bench reads /proc and drives OpenSSH's sshd, which it
// only does on Linux.
func run(config) int {
	fmt.Fprintf(os.Stderr, "sshbench: needs linux and OpenSSH (ssh, sshd, ssh-keygen); this is %s/%s\n",
		runtime.GOOS, runtime.GOARCH)
	return 2
}
