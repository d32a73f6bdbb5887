package ssh

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind: Disconnect
// must end everything a Session started.
func TestMain(m *testing.M) {
	if os.Getenv(idleServerEnv) != "" {
		os.Exit(idleServerMain()) // idle_memory_test.go: the child server
	}
	goleak.VerifyTestMain(m)
}
