package ssh

import (
	"cmp"
	"strconv"

	"github.com/libssh-go/libssh/sshconfig"

	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"time"
)

// proxyWaitDelay bounds how long closing a ProxyCommand transport waits for
// the command's stderr to drain after the command was killed (a grandchild
// may hold it open).
const proxyWaitDelay = 2 * time.Second

// dialProxyCommand starts the ProxyCommand and returns a net.Conn over its
// standard input and output, as OpenSSH does: the command runs as
// `/bin/sh -c "exec COMMAND"` with %h, %k, %n, %p, %r and %% expanded, its
// standard error goes to the session's log, and closing the conn kills and
// reaps it. Host and user values with shell metacharacters are refused
// before anything runs (CVE-2023-51385). Windows has no /bin/sh:
// ProxyCommand fails there with ErrUnsupported.
func dialProxyCommand(opts Options, log *slog.Logger) (net.Conn, error) {
	orig := opts.configHost
	if orig == "" {
		orig = opts.Host
	}
	toks := sshconfig.Tokens{'h': opts.Host, 'k': cmp.Or(opts.HostKeyAlias, orig), 'n': orig, 'p': strconv.Itoa(opts.Port), 'r': opts.User}
	line, err := toks.ExpandShell(opts.ProxyCommand, sshconfig.TokensProxyCommand)
	if err != nil {
		return nil, &OptionError{Option: "ProxyCommand", Value: opts.ProxyCommand, Err: err}
	}
	if runtime.GOOS == "windows" {
		return nil, fmt.Errorf("%w: ProxyCommand needs /bin/sh", ErrUnsupported)
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("ssh: ProxyCommand: %w", err)
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		stdinR.Close()
		stdinW.Close()
		return nil, fmt.Errorf("ssh: ProxyCommand: %w", err)
	}
	cmd := exec.Command("/bin/sh", "-c", "exec "+line)
	cmd.Stdin, cmd.Stdout = stdinR, stdoutW
	cmd.Stderr = &lineLogger{log: log, msg: "ProxyCommand stderr"}
	cmd.WaitDelay = proxyWaitDelay
	err = cmd.Start()
	// The child holds its ends now; ours must go, or EOF never arrives.
	stdinR.Close()
	stdoutW.Close()
	if err != nil {
		stdinW.Close()
		stdoutR.Close()
		return nil, fmt.Errorf("ssh: ProxyCommand %q: %w", line, err)
	}
	log.Debug("ProxyCommand started", "command", line, "pid", cmd.Process.Pid)
	return &commandConn{cmd: cmd, r: stdoutR, w: stdinW, addr: commandAddr(line)}, nil
}

// commandConn is a net.Conn over a child process's standard output (read)
// and standard input (write). Deadlines work where the platform can poll
// pipes (every Unix); Close kills the process and waits for it.
type commandConn struct {
	cmd  *exec.Cmd
	r    *os.File
	w    *os.File
	addr commandAddr

	once    sync.Once
	waitErr error
}

func (c *commandConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *commandConn) Write(p []byte) (int, error) { return c.w.Write(p) }

// Close closes both pipes, kills the command (SIGKILL: it must not outlive
// the session, whatever signals it ignores) and reaps it. It is idempotent
// and returns nil; how the command ended is logged, not reported.
func (c *commandConn) Close() error {
	c.once.Do(func() {
		c.w.Close()
		c.r.Close()
		_ = c.cmd.Process.Kill()
		c.waitErr = c.cmd.Wait()
	})
	return nil
}

func (c *commandConn) LocalAddr() net.Addr  { return c.addr }
func (c *commandConn) RemoteAddr() net.Addr { return c.addr }

func (c *commandConn) SetDeadline(t time.Time) error {
	return errors.Join(c.r.SetReadDeadline(t), c.w.SetWriteDeadline(t))
}
func (c *commandConn) SetReadDeadline(t time.Time) error  { return c.r.SetReadDeadline(t) }
func (c *commandConn) SetWriteDeadline(t time.Time) error { return c.w.SetWriteDeadline(t) }

// pid is the command's process id, for tests.
func (c *commandConn) pid() int { return c.cmd.Process.Pid }

// commandAddr names a ProxyCommand transport's ends.
type commandAddr string

func (a commandAddr) Network() string { return "proxycommand" }
func (a commandAddr) String() string  { return string(a) }

// lineLogger logs what a child writes, one record per line, keeping at most
// maxLoggedLine bytes of a line.
type lineLogger struct {
	log *slog.Logger
	msg string
	buf []byte
}

const maxLoggedLine = 4096

func (l *lineLogger) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.buf = append(l.buf, p[:min(len(p), max(0, maxLoggedLine-len(l.buf)))]...)
			break
		}
		l.buf = append(l.buf, p[:min(i, max(0, maxLoggedLine-len(l.buf)))]...)
		l.log.Info(l.msg, "line", string(l.buf))
		l.buf, p = l.buf[:0], p[i+1:]
	}
	return n, nil
}

var _ io.Writer = (*lineLogger)(nil)
