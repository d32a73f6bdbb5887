//go:build unix

package sshconfig

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// killGroupOnCancel makes cmd, made by exec.CommandContext, start in a
// process group of its own, and the end of its ctx kill that whole group
// with SIGKILL instead of the shell alone: a `sh -c` command's children
// (`sleep 31; true`, pipelines, background jobs) would otherwise outlive the
// ctx, since killing a shell does not kill what it forked. SIGKILL, because
// the command must not be able to ignore it.
//
// A process in a group of its own is not in the terminal's foreground
// group: reading the terminal stops it (SIGTTIN) until the ctx ends. That is
// why only commands that do not talk to the user get this (Match exec runs
// with standard input and output on the null device); ProxyCommand stays
// in our group so that it can prompt, as OpenSSH's does.
func killGroupOnCancel(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true // Pgid 0: the group's id is the command's pid
	cmd.Cancel = func() error {
		// POSIX does not reuse a process group's id while a member lives,
		// so this reaches the command's group even after the shell itself
		// was reaped, and nothing else.
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
}
