package ssh

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind: Disconnect
// must end everything a Session started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
