//go:build !unix

package sshconfig

import "os/exec"

// killGroupOnCancel keeps exec.CommandContext's default, killing the
// process alone: without Unix process groups there is no group to kill (and
// the commands that use it need /bin/sh, which these systems lack).
func killGroupOnCancel(*exec.Cmd) {}
