package interop

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// startTimeout bounds the wait for sshd or ssh-agent to accept connections.
	startTimeout = 20 * time.Second
	// bindAttempts: the free port is found by binding port 0 and closing it, so another
	// process may take it before sshd binds; sshd then exits and Start tries a new port.
	bindAttempts = 3
	// logLimit bounds the sshd log written to a failed test.
	logLimit = 256 << 10
)

// startSSHD writes sshd_config, runs sshd, waits until it accepts connections and registers
// the cleanup that stops it.
func (e *Env) startSSHD(t testing.TB, opts Options) {
	t.Helper()
	if os.Geteuid() == 0 {
		// sshd's privilege-separation directory; as root sshd exits at once without it. As
		// an ordinary user sshd neither chroots nor changes user, so it needs none.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("interop: %v", err)
		}
	}
	cfgPath := filepath.Join(e.Dir, "sshd_config")
	logPath := filepath.Join(e.Dir, "sshd.log")
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("interop: finding a free port: %v", err)
		}
		e.Port = port
		e.Addr = net.JoinHostPort(e.Host, strconv.Itoa(port))
		if err := os.WriteFile(cfgPath, []byte(e.sshdConfig(opts)), 0o644); err != nil {
			t.Fatalf("interop: %v", err)
		}
		logFile, err := os.Create(logPath)
		if err != nil {
			t.Fatalf("interop: %v", err)
		}
		// -D: stay in the foreground as our child; -e: log to stderr, which is the log file
		// (connection children inherit it, so their logs land there too).
		cmd := exec.Command(sshdPath, "-D", "-e", "-f", cfgPath)
		cmd.Stdout = logFile
		cmd.Stderr = logFile
		p, err := startProcess(cmd)
		logFile.Close() // the child holds its own copy
		if err != nil {
			t.Fatalf("interop: starting sshd: %v", err)
		}
		err = waitReady(p, func() error { return checkSSHBanner(e.Addr) })
		if err == nil {
			t.Cleanup(func() {
				p.stop()
				if t.Failed() {
					t.Logf("interop: sshd log %s:\n%s", logPath, logTail(logPath, logLimit))
				}
			})
			return
		}
		p.stop()
		log := logTail(logPath, logLimit)
		if attempt < bindAttempts && strings.Contains(log, "Cannot bind any address") {
			continue
		}
		t.Fatalf("interop: sshd on %s: %v\nsshd_config:\n%s\nsshd log:\n%s", e.Addr, err, e.sshdConfig(opts), log)
	}
}

// sshdConfig returns the sshd_config text for the current Port.
func (e *Env) sshdConfig(opts Options) string {
	var head, tail []string
	for i, line := range opts.ExtraConfig {
		if f := strings.Fields(line); len(f) > 0 && strings.EqualFold(f[0], "Match") {
			tail = opts.ExtraConfig[i:]
			break
		}
		head = append(head, line)
	}

	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# Written by internal/interop for one test run.")
	if opts.AuthenticationMethods != "" {
		line("AuthenticationMethods %s", opts.AuthenticationMethods)
	}
	if len(head) > 0 {
		line("# Options.ExtraConfig (before the defaults: sshd keeps the first value)")
		for _, l := range head {
			line("%s", l)
		}
	}
	line("# Defaults")
	line("ListenAddress %s", e.Addr)
	for _, typ := range keyTypes {
		line("HostKey %s", e.HostKeyFiles[typ])
	}
	line("PidFile %s", filepath.Join(e.Dir, "sshd.pid"))
	line("LogLevel DEBUG")
	if e.PasswordAuth {
		line("UsePAM yes")
		line("KbdInteractiveAuthentication yes")
		line("PasswordAuthentication yes")
	} else {
		// Running as an ordinary user, sshd can neither use PAM nor read /etc/shadow, so
		// it could only deny passwords; it offers public keys alone.
		line("UsePAM no")
		line("KbdInteractiveAuthentication no")
		line("PasswordAuthentication no")
	}
	line("PubkeyAuthentication yes")
	line("PermitRootLogin no")
	line("AuthorizedKeysFile %s", filepath.Join(e.Dir, "authorized_keys"))
	// The authorized keys file is under /tmp, which StrictModes rejects for being
	// world-writable.
	line("StrictModes no")
	line("AcceptEnv LANG LC_* LIBSSH_*")
	line("Subsystem sftp internal-sftp")
	line("UseDNS no")
	line("PrintMotd no")
	line("PrintLastLog no")
	// Tests connect in parallel and open many channels; the defaults (10:30:100 and 10)
	// would drop connections at random.
	line("MaxStartups 100")
	line("MaxSessions 100")
	if len(tail) > 0 {
		line("# Options.ExtraConfig from the first Match on")
		for _, l := range tail {
			line("%s", l)
		}
	}
	return b.String()
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// checkSSHBanner connects to addr and reads the server's version line (RFC 4253 §4.2).
func checkSSHBanner(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading version line: %w", err)
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		return fmt.Errorf("unexpected version line %q", line)
	}
	return nil
}

// waitReady polls check until it succeeds, p exits or startTimeout passes. Polling is the only
// readiness signal sshd and ssh-agent give in the foreground.
func waitReady(p *process, check func() error) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	interval := 5 * time.Millisecond
	poll := time.NewTimer(0)
	defer poll.Stop()
	var last error
	for {
		select {
		case <-p.done:
			return fmt.Errorf("exited before accepting connections: %v", p.err)
		case <-deadline.C:
			return fmt.Errorf("not accepting connections after %v: %v", startTimeout, last)
		case <-poll.C:
			if last = check(); last == nil {
				return nil
			}
			interval = min(2*interval, 100*time.Millisecond)
			poll.Reset(interval)
		}
	}
}
