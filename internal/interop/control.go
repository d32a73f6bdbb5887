package interop

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// StartControlMaster starts an OpenSSH ControlMaster for this server on the
// Unix socket path (`ssh -M -S path -N -f`, logging in as SSH does) and
// returns once the master has authenticated and listens. The cleanup of t
// stops it with `ssh -S path -O exit`.
func (e *Env) StartControlMaster(t testing.TB, path string) {
	t.Helper()
	cmd := e.SSH(t, "-M", "-S", path, "-N", "-f")
	// -f leaves the master running with our descriptors: give it none
	// that the test waits on.
	var stderr bytes.Buffer
	errFile, err := os.CreateTemp(e.Dir, "master-stderr")
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	defer errFile.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, errFile
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(errFile.Name())
		stderr.Write(b)
		t.Fatalf("interop: ssh -M: %v: %s", err, stderr.String())
	}
	t.Cleanup(func() {
		stop := exec.Command(e.SSHBin, "-F", "/dev/null", "-S", path, "-O", "exit", e.Host)
		if out, err := stop.CombinedOutput(); err != nil {
			t.Logf("interop: ssh -O exit: %v: %s", err, out)
		}
	})
}
