package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// sshdReadyTimeout bounds the wait for a started sshd to answer.
	sshdReadyTimeout = 15 * time.Second
	// sshdStopTimeout is how long sshd gets to exit on SIGTERM before SIGKILL.
	sshdStopTimeout = 5 * time.Second
	// bindAttempts: the free port is found by binding port 0 and closing it,
	// so another process may take it before sshd binds; then a new one is tried.
	bindAttempts = 3
)

// sshd is an OpenSSH server of the bench's own on 127.0.0.1, with every
// file it needs in a temporary directory.
type sshd struct {
	dir        string
	port       int
	banner     string // the server's version line
	identity   string // client ed25519 key, authorized for the current user
	knownHosts string // the server's three host keys under "[127.0.0.1]:port"
	logPath    string

	procs  *procTracker
	cmd    *exec.Cmd
	exited chan struct{} // closed once sshd was reaped
}

// startSSHD makes the keys and sshd_config, starts sshd and waits until it
// answers with its version line. On error nothing is left running, and the
// directory is removed.
func startSSHD(ctx context.Context, procs *procTracker, logf func(string, ...any)) (_ *sshd, err error) {
	sshdPath, err := exec.LookPath("sshd")
	if err != nil {
		sshdPath = "/usr/sbin/sshd"
	}
	// sshd re-executes itself for each connection and insists on an absolute path.
	if sshdPath, err = filepath.Abs(sshdPath); err != nil {
		return nil, err
	}
	if _, err := os.Stat(sshdPath); err != nil {
		return nil, fmt.Errorf("no OpenSSH sshd (%w); install openssh-server or use -host", err)
	}
	// Privilege separation needs this empty directory; Debian creates it only at boot.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, fmt.Errorf("creating /run/sshd (run as root): %w", err)
	}
	dir, err := os.MkdirTemp("", "sshbench-")
	if err != nil {
		return nil, err
	}
	s := &sshd{dir: dir, procs: procs, logPath: filepath.Join(dir, "sshd.log"),
		identity: filepath.Join(dir, "id_ed25519"), knownHosts: filepath.Join(dir, "known_hosts")}
	defer func() {
		if err != nil {
			s.stop(false)
		}
	}()

	hostKeys := map[string][]string{
		"ed25519": {"-t", "ed25519"},
		"ecdsa":   {"-t", "ecdsa", "-b", "256"},
		"rsa":     {"-t", "rsa", "-b", "3072"},
	}
	var hostKeyPaths []string
	for _, typ := range []string{"ed25519", "ecdsa", "rsa"} {
		p := filepath.Join(dir, "ssh_host_"+typ+"_key")
		if err := keygen(ctx, p, hostKeys[typ]...); err != nil {
			return nil, err
		}
		hostKeyPaths = append(hostKeyPaths, p)
	}
	if err := keygen(ctx, s.identity, "-t", "ed25519"); err != nil {
		return nil, err
	}
	pub, err := os.ReadFile(s.identity + ".pub")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		return nil, err
	}

	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s.port = port
		if err := s.writeFiles(hostKeyPaths); err != nil {
			return nil, err
		}
		err = s.launch(ctx, sshdPath)
		if err == nil {
			logf("sshd %s listening on 127.0.0.1:%d (%s)", sshdPath, s.port, dir)
			return s, nil
		}
		log := s.logTail()
		s.kill(false)
		if attempt < bindAttempts && strings.Contains(log, "Address already in use") {
			continue
		}
		return nil, fmt.Errorf("sshd on port %d: %w\nsshd log:\n%s", port, err, log)
	}
}

// keygen runs ssh-keygen for an unencrypted key at path.
func keygen(ctx context.Context, path string, typeArgs ...string) error {
	args := append([]string{"-q", "-N", "", "-C", "sshbench", "-f", path}, typeArgs...)
	out, err := exec.CommandContext(ctx, "ssh-keygen", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ssh-keygen %s: %w: %s", strings.Join(typeArgs, " "), err, out)
	}
	return nil
}

// writeFiles writes sshd_config and known_hosts for the current port.
func (s *sshd) writeFiles(hostKeyPaths []string) error {
	var cfg, kh strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&cfg, format+"\n", args...) }
	line("# Written by sshbench for one run.")
	line("ListenAddress 127.0.0.1:%d", s.port)
	for _, p := range hostKeyPaths {
		line("HostKey %s", p)
		pub, err := os.ReadFile(p + ".pub")
		if err != nil {
			return err
		}
		f := strings.Fields(string(pub))
		if len(f) < 2 {
			return fmt.Errorf("%s.pub: not a public key", p)
		}
		fmt.Fprintf(&kh, "[127.0.0.1]:%d %s %s\n", s.port, f[0], f[1])
	}
	line("PidFile %s", filepath.Join(s.dir, "sshd.pid"))
	line("AuthorizedKeysFile %s", filepath.Join(s.dir, "authorized_keys"))
	line("LogLevel INFO")
	line("PermitRootLogin prohibit-password")
	// The key files live under /tmp, which StrictModes rejects as group/world writable.
	line("StrictModes no")
	line("UsePAM no")
	line("PubkeyAuthentication yes")
	line("PasswordAuthentication no")
	line("KbdInteractiveAuthentication no")
	line("UseDNS no")
	line("PrintMotd no")
	line("PrintLastLog no")
	// The channel-latency loop opens 50 channels in a row on one connection,
	// and the latency loop connects 60 times: keep sshd's limits out of the way.
	line("MaxSessions 100")
	// The file-transfer rows (-sftp) need the sftp subsystem; Debian's
	// sshd_config names the same program.
	line("Subsystem sftp %s", sftpServerPath())
	line("MaxStartups 100")
	if err := os.WriteFile(filepath.Join(s.dir, "sshd_config"), []byte(cfg.String()), 0o600); err != nil {
		return err
	}
	return os.WriteFile(s.knownHosts, []byte(kh.String()), 0o600)
}

// sftpServerPath is OpenSSH's sftp-server, or sshd's built-in one when the
// program is not where Debian and Fedora install it.
func sftpServerPath() string {
	for _, p := range []string{"/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/lib/ssh/sftp-server"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "internal-sftp"
}

// launch starts sshd and polls its port, for at most sshdReadyTimeout,
// until it sends its version line.
func (s *sshd) launch(ctx context.Context, sshdPath string) error {
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	defer logFile.Close() // sshd holds its own descriptor
	// -D: stay in the foreground as our child; -e: log to stderr, the log file.
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", filepath.Join(s.dir, "sshd_config"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := s.procs.start(cmd, syscall.SIGTERM); err != nil {
		return fmt.Errorf("starting sshd: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() {
		_ = s.procs.wait(cmd)
		close(s.exited)
	}()

	deadline := time.Now().Add(sshdReadyTimeout)
	for {
		banner, err := readBanner(net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)))
		if err == nil {
			s.banner = banner
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("sshd exited: %v", cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %v: %w", sshdReadyTimeout, err)
		}
	}
}

// readBanner connects to addr and reads the server's version line
// (RFC 4253 §4.2: lines before it that do not start with "SSH-" are skipped).
func readBanner(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	for range 20 {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(line, "SSH-") {
			return strings.TrimRight(line, "\r\n"), nil
		}
	}
	return "", errors.New("no SSH version line")
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns the end of sshd's log.
func (s *sshd) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	const limit = 8 << 10
	if len(b) > limit {
		b = b[len(b)-limit:]
	}
	return string(b)
}

// kill stops sshd (SIGTERM, then SIGKILL after sshdStopTimeout) and reaps
// it. First it gives the per-connection processes sshd forked up to
// sshdStopTimeout to finish, so that sshd reaps them rather than leaving
// them to init: they end once their connections close, which the bench's
// clients do before this. With graceful false it does not wait for them.
func (s *sshd) kill(graceful bool) {
	if s.cmd == nil {
		return
	}
	children := fmt.Sprintf("/proc/%d/task/%d/children", s.cmd.Process.Pid, s.cmd.Process.Pid)
	for deadline := time.Now().Add(sshdStopTimeout); graceful && time.Now().Before(deadline); {
		if b, err := os.ReadFile(children); err != nil || len(strings.TrimSpace(string(b))) == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(sshdStopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// stop kills sshd (see kill) and removes its directory. It is idempotent.
func (s *sshd) stop(graceful bool) {
	s.kill(graceful)
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
		s.dir = ""
	}
}
