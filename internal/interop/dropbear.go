package interop

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// dropbearPath and dropbearKeyPath are Debian's dropbear-bin server and key generator.
const (
	dropbearPath    = "/usr/sbin/dropbear"
	dropbearKeyPath = "/usr/bin/dropbearkey"
)

// dropbearClientKeys are the client keys a Dropbear Env holds: every type Dropbear 2022.83
// accepts except ssh-dss (off by default there, and refused by x/crypto and OpenSSH 9) and
// the security-key types (no hardware here).
var dropbearClientKeys = []string{"ed25519", "ecdsa", "ecdsa384", "ecdsa521", "rsa", "ed25519-enc"}

// DropbearOptions adjusts the Dropbear server that StartDropbear runs. The zero value is
// Dropbear's defaults: password and public-key logins, local and remote forwarding, agent
// forwarding, a 24 KiB receive window.
type DropbearOptions struct {
	// Args are extra dropbear(8) options, for example "-s" (no password logins), "-j" or
	// "-k" (no local or remote forwarding), "-W", "1048576" (receive window), "-b", file
	// (banner).
	Args []string

	// NoAgent skips starting ssh-agent; Env.AgentSock is then empty.
	NoAgent bool
}

// StartDropbear runs Dropbear (and ssh-agent unless opts.NoAgent) for the test t, as Start
// does sshd, and returns once it accepts connections. Dropbear runs in the foreground (-F),
// logs to Env.Dir (-E), listens on 127.0.0.1 at a free port and uses host keys made by
// dropbearkey (HostKeyFiles are in Dropbear's format; KnownHostsFile lists their public
// halves). Env.Keys holds "ed25519", "ecdsa" (P-256), "ecdsa384", "ecdsa521", "rsa" and
// "ed25519-enc", all authorized for User. Cleanups stop Dropbear with its connection and
// session children, remove the keys from User's authorized_keys and remove Env.Dir; if t
// failed, the Dropbear log is written with t.Log first.
//
// Dropbear 2022.83 reads public keys only from ~User/.ssh/authorized_keys, so the keys are
// added to that file for the life of t (other lines are left alone, see authorizeInHome). The
// harness edits only TestUser's file: in ModeNonRoot, StartDropbear skips t unless the current
// user is TestUser. Password logins work in ModeRoot only (Dropbear reads /etc/shadow);
// Dropbear offers no keyboard-interactive authentication.
//
// When Dropbear, the OpenSSH client tools, root privileges (ModeRoot) or TestUser are
// missing, StartDropbear skips t, or fails it as Start does.
func StartDropbear(t testing.TB, opts DropbearOptions) *Env {
	t.Helper()
	e := newEnv(t, "dropbear", dropbearPath, dropbearKeyPath)
	if e.User != TestUser {
		t.Skipf("interop: needs root: Dropbear 2022.83 reads keys only from ~/.ssh/authorized_keys, and as %s (LIBSSH_INTEROP=nonroot) that is your own file, which the harness does not change; run ./test.sh as root, or as %s", e.User, TestUser)
	}
	e.Dir = makeEnvDir(t, e.PasswordAuth)

	// Host and client keys in parallel; the deferred Wait also runs if makeKeys fails t.
	var hostErr error
	var wg sync.WaitGroup
	wg.Go(func() { hostErr = e.makeDropbearHostKeys() })
	authorized := func() string {
		defer wg.Wait()
		return e.makeKeys(t, false, dropbearClientKeys)
	}()
	if hostErr != nil {
		t.Fatalf("interop: %v", hostErr)
	}
	e.authorizeInHome(t, authorized)
	e.startDropbear(t, opts)
	e.writeKnownHosts(t)
	if !opts.NoAgent {
		e.startAgent(t)
	}
	return e
}

// makeDropbearHostKeys makes one host key per keyTypes entry with dropbearkey, in parallel,
// and writes each public half beside it in OpenSSH format (PATH.pub) for writeKnownHosts.
func (e *Env) makeDropbearHostKeys() error {
	e.HostKeyFiles = make(map[string]string)
	for _, typ := range keyTypes {
		e.HostKeyFiles[typ] = filepath.Join(e.Dir, "dropbear_"+typ+"_host_key")
	}
	errs := make([]error, len(keyTypes))
	var wg sync.WaitGroup
	for i, typ := range keyTypes {
		wg.Go(func() { errs[i] = dropbearKey(typ, e.HostKeyFiles[typ]) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// dropbearKey runs dropbearkey for one host key and writes path.pub from its output.
func dropbearKey(typ, path string) error {
	args := []string{"-t", typ, "-f", path}
	switch typ {
	case "rsa":
		args = append(args, "-s", "2048")
	case "ecdsa":
		args = append(args, "-s", "256")
	}
	out, err := exec.Command(dropbearKeyPath, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("dropbearkey %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	// The output says "Public key portion is:", then the OpenSSH authorized_keys line,
	// then the fingerprint.
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && (strings.HasPrefix(f[0], "ssh-") || strings.HasPrefix(f[0], "ecdsa-")) {
			return os.WriteFile(path+".pub", []byte(f[0]+" "+f[1]+"\n"), 0o644)
		}
	}
	return fmt.Errorf("dropbearkey %s printed no public key:\n%s", strings.Join(args, " "), out)
}

// startDropbear runs dropbear, waits until it accepts connections and registers the cleanup
// that stops it.
func (e *Env) startDropbear(t testing.TB, opts DropbearOptions) {
	t.Helper()
	logPath := filepath.Join(e.Dir, "dropbear.log")
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("interop: finding a free port: %v", err)
		}
		e.Port = port
		e.Addr = net.JoinHostPort(e.Host, strconv.Itoa(port))
		// -F: stay in the foreground as our child; -E: log to stderr, the log file (each
		// connection's child inherits it); -m: no motd; -w: no root logins.
		args := []string{"-F", "-E", "-m", "-w", "-p", e.Addr, "-P", filepath.Join(e.Dir, "dropbear.pid")}
		for _, typ := range keyTypes {
			args = append(args, "-r", e.HostKeyFiles[typ])
		}
		args = append(args, opts.Args...)
		logFile, err := os.Create(logPath)
		if err != nil {
			t.Fatalf("interop: %v", err)
		}
		cmd := exec.Command(dropbearPath, args...)
		cmd.Stdout = logFile
		cmd.Stderr = logFile
		p, err := startProcess(cmd)
		logFile.Close() // the child holds its own copy
		if err != nil {
			t.Fatalf("interop: starting dropbear: %v", err)
		}
		err = waitReady(p, func() error { return checkSSHBanner(e.Addr) })
		if err == nil {
			t.Cleanup(func() {
				p.stop()
				if t.Failed() {
					t.Logf("interop: dropbear log %s:\n%s", logPath, logTail(logPath, logLimit))
				}
			})
			return
		}
		p.stop()
		log := logTail(logPath, logLimit)
		if attempt < bindAttempts && strings.Contains(log, "Address already in use") {
			continue
		}
		t.Fatalf("interop: dropbear %s: %v\ndropbear log:\n%s", strings.Join(args, " "), err, log)
	}
}
