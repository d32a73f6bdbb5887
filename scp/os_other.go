//go:build !windows

package scp

const isWindows = false
