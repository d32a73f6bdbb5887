//go:build !linux

package interop

import "testing"

// authorizeInHome: the servers run only on Linux, and findTools says so before this is reached.
func (e *Env) authorizeInHome(t testing.TB, content string) {
	t.Helper()
	t.Fatal("interop: servers run only on Linux")
}
