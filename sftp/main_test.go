package sftp

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: Close must
// end the reader and writer goroutines.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
