//go:build !unix

package sshconfig

import "os"

// openConfigFile opens a config file. Outside Unix there are no FIFOs to
// block on; readConfigFile still refuses anything but a regular file.
func openConfigFile(path string) (*os.File, error) { return os.Open(path) }

// checkConfigOwner has nothing to check outside Unix: file modes do not
// carry ownership there, and OpenSSH for Windows checks ACLs instead.
func checkConfigOwner(os.FileInfo) error { return nil }
