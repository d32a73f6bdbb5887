package interop

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// startAgent runs ssh-agent on a socket in Dir, loads the plain "ed25519" and "rsa" keys with
// ssh-add and registers the cleanup that stops the agent.
func (e *Env) startAgent(t testing.TB) {
	t.Helper()
	sock := filepath.Join(e.Dir, "agent.sock")
	logPath := filepath.Join(e.Dir, "agent.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	// -D: foreground, so the agent is our child and cleanup can wait for it. Its stdout
	// only repeats the socket path in shell syntax.
	cmd := exec.Command(e.sshAgentBin, "-D", "-a", sock)
	cmd.Stderr = logFile
	p, err := startProcess(cmd)
	logFile.Close()
	if err != nil {
		t.Fatalf("interop: starting ssh-agent: %v", err)
	}
	t.Cleanup(p.stop)
	err = waitReady(p, func() error {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		t.Fatalf("interop: ssh-agent on %s: %v\n%s", sock, err, logTail(logPath, logLimit))
	}
	e.AgentSock = sock

	add := exec.Command(e.SSHAddBin, "-q", e.Keys["ed25519"].Private, e.Keys["rsa"].Private)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("interop: ssh-add: %v\n%s", err, out)
	}
}
