// Command gossh is an ssh(1)-compatible client built on libssh-go: the
// same command line, ssh_config handling (-G prints what `ssh -G` prints),
// host-key questions and warnings, authentication prompts and exit status
// as OpenSSH's ssh, so that it can stand in for ssh in daily work.
//
//	go install github.com/libssh-go/libssh/cmd/gossh@latest
//	gossh -p 2222 alice@example.org uname -a
//
// Exit status: the remote command's, or 255 when the connection, the host
// key check or authentication failed, or the command line was wrong.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/libssh-go/libssh/cmd/gossh/internal/vis"
	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshconfig"
	"golang.org/x/term"
)

// exitFailure is ssh's status for every failure of its own.
const exitFailure = 255

func main() {
	os.Exit(gossh(os.Args[1:]))
}

// gossh runs the command on the process's standard streams and returns
// its exit status.
func gossh(args []string) int {
	return gosshMain(args, os.Stdin, os.Stdout, os.Stderr)
}

// gosshMain runs the command with the given standard streams (tests run
// -G in-process with buffers) and returns its exit status.
func gosshMain(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	c, err := parseArgs(args)
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			if ue != "" {
				fmt.Fprintf(stderr, "gossh: %s\n", string(ue))
			}
			fmt.Fprint(stderr, usageText)
		} else {
			fmt.Fprintf(stderr, "gossh: %v\r\n", err)
		}
		return exitFailure
	}
	if c.version {
		fmt.Fprintln(stderr, versionLine())
		return 0
	}
	r := &runner{c: c, stdin: stdin, stdout: stdout, stderr: stderr}
	return r.run()
}

// versionLine is what -V prints (to stderr, as ssh -V does).
func versionLine() string {
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return fmt.Sprintf("gossh %s (libssh-go, golang.org/x/crypto/ssh), %s", v, runtime.Version())
}

// runner carries one invocation through its phases.
type runner struct {
	c      *cmdline
	cfg    *sshconfig.Config
	stdin  *os.File
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	quiet  bool // LogLevel QUIET: no banner, no informational messages
}

// info is where ssh's logit() messages go: stderr unless quiet.
func (r *runner) info() io.Writer {
	if r.quiet {
		return nil
	}
	return r.stderr
}

func (r *runner) run() int {
	c := r.c
	logOut := r.stderr
	if c.logFile != "" {
		f, err := os.OpenFile(c.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintf(r.stderr, "gossh: Couldn't open logfile %s: %s\r\n", c.logFile, errnoText(err))
			return exitFailure
		}
		defer f.Close()
		logOut = f
		// ssh -E sends its own error messages to the log file too.
		r.stderr = f
	}
	r.log = newLogger(logOut, c.verbose)

	in := sshconfig.Input{ConfigFile: c.configFile, Options: c.options, Logger: r.log}
	ctx := context.Background()
	cfg, err := sshconfig.Resolve(ctx, c.host, in)
	if err != nil {
		if c.configFile != "" && errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(r.stderr, "gossh: Can't open user config file %s: No such file or directory\r\n", c.configFile)
		} else {
			fmt.Fprintf(r.stderr, "gossh: %s\r\n", strings.TrimPrefix(err.Error(), "sshconfig: "))
		}
		return exitFailure
	}
	r.cfg = cfg
	if lv := cfg.Get("loglevel"); len(lv) > 0 && c.verbose == 0 {
		r.log = newLogger(logOut, logLevelVerbosity(lv[0]))
	}
	if lv := cfg.Get("loglevel"); len(lv) > 0 && (lv[0] == "QUIET" || lv[0] == "SILENT" || lv[0] == "FATAL" || lv[0] == "ERROR") {
		r.quiet = true
	}
	if c.printCfg {
		r.checkIdentities(true)
		fmt.Fprint(r.stdout, cfg.String())
		return 0
	}
	if !r.checkIdentities(false) {
		return exitFailure
	}
	if c.fork && len(c.command) == 0 && len(cfg.Get("remotecommand")) == 0 && cfg.Get("sessiontype")[0] != "none" {
		fmt.Fprint(r.stderr, "gossh: Cannot fork into background without a command to execute.", "\r\n")
		return exitFailure
	}
	if c.fork && !isForkedChild() {
		return r.forkParent()
	}
	return r.connectAndRun(ctx)
}

// checkIdentities checks that the -i files can be read. ssh only warns
// about a missing one ("Warning: Identity file ... not accessible") and
// that is all -G does here; for a connection gossh refuses to go on with
// a key the user named but cannot be used, before touching the network.
func (r *runner) checkIdentities(warnOnly bool) bool {
	for _, p := range r.c.identities {
		path, err := r.cfg.Tokens().ExpandPath(p)
		if err != nil {
			path = p
		}
		f, err := os.Open(path)
		if err == nil {
			f.Close()
			continue
		}
		if warnOnly {
			fmt.Fprintf(r.stderr, "Warning: Identity file %s not accessible: %s.\r\n", path, errnoText(err))
			continue
		}
		fmt.Fprintf(r.stderr, "gossh: Load key \"%s\": %s\r\n", path, errnoText(err))
		return false
	}
	return true
}

func (r *runner) connectAndRun(ctx context.Context) int {
	c, cfg := r.c, r.cfg
	s := ssh.NewSession()
	defer s.Disconnect()
	if err := s.SetOption(ssh.Logger(r.log)); err != nil {
		return r.fail(err)
	}
	configFile := c.configFile
	if err := s.ApplyConfig(cfg, configFile); err != nil {
		return r.fail(err)
	}
	opts := s.Options()
	p := newPrompter(opts.BatchMode, r.stdin, r.stderr)
	s.SetAuthCallback(func(prompt string, echo, verify bool, identity string) (string, error) {
		if identity != "" {
			prompt = fmt.Sprintf("Enter passphrase for key '%s': ", identity)
		}
		return p.ask(vis.String(prompt), echo)
	})

	if err := s.Connect(ctx); err != nil {
		return r.connectFailed(err, opts)
	}
	if s.Multiplexed() {
		// An OpenSSH ControlMaster answered on ControlPath: it checked the
		// host key and logged in; the session runs over it.
		return r.afterAuth(ctx, s, opts)
	}
	lookup := opts.Host
	if opts.HostKeyAlias != "" {
		lookup = opts.HostKeyAlias
	}
	userFile := "~/.ssh/known_hosts"
	if len(opts.KnownHosts) > 0 {
		userFile = opts.KnownHosts[0]
	}
	hk := &hostKeyCheck{s: s, policy: opts.StrictHostKeyChecking, lookup: ssh.KnownHostsHostname(lookup, opts.Port),
		userFile: userFile, ask: p.ask, info: r.info(), stderr: r.stderr}
	if err := hk.verify(); err != nil {
		if errors.Is(err, errHostKeyVerification) {
			fmt.Fprint(r.stderr, err, "\r\n")
			return exitFailure
		}
		return r.fail(err)
	}

	a := &authenticator{s: s, user: opts.User, host: opts.Host, preferred: opts.PreferredAuthentications,
		prompts: opts.NumberOfPasswordPrompts, pubkey: opts.PubkeyAuthentication,
		password: opts.PasswordAuthentication, kbdint: opts.KbdInteractiveAuthentication,
		ask: p.ask, info: r.info(), stderr: r.stderr, quiet: r.quiet}
	if err := a.run(ctx); err != nil {
		if errors.Is(err, errAuthFailed) {
			return exitFailure
		}
		return r.fail(err)
	}
	return r.afterAuth(ctx, s, opts)
}

// fail prints err as ssh prints a fatal error and returns 255.
func (r *runner) fail(err error) int {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "ssh: ")
	fmt.Fprintf(r.stderr, "gossh: %s\r\n", vis.String(msg))
	return exitFailure
}

// connectFailed prints a failed Connect as ssh does: "connect to host H
// port P: Connection refused", "Could not resolve hostname H: ...".
func (r *runner) connectFailed(err error, opts ssh.Options) int {
	var dnsErr *net.DNSError
	var hk *ssh.HostKeyError
	switch {
	case errors.As(err, &hk):
		fmt.Fprint(r.stderr, errHostKeyVerification, "\r\n")
		return exitFailure
	case errors.As(err, &dnsErr):
		reason := "Name or service not known"
		if dnsErr.IsTemporary {
			reason = "Temporary failure in name resolution"
		}
		fmt.Fprintf(r.stderr, "gossh: Could not resolve hostname %s: %s\r\n", vis.String(opts.Host), reason)
		return exitFailure
	case errors.Is(err, ssh.ErrConnect) && opts.ProxyCommand == "" && opts.ProxyJump == "":
		fmt.Fprintf(r.stderr, "gossh: connect to host %s port %d: %s\r\n", vis.String(opts.Host), opts.Port, errnoText(err))
		return exitFailure
	}
	return r.fail(err)
}

// errnoText is the strerror of the system error inside err, capitalised as
// C's strerror is; the error's own text otherwise.
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return "Connection timed out"
	}
	return err.Error()
}

// stdinIsTerminal reports whether stdin is a terminal, for the pty decision.
func (r *runner) stdinIsTerminal() bool {
	return r.stdin != nil && term.IsTerminal(int(r.stdin.Fd()))
}
