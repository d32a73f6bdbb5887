package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/libssh-go/libssh/cmd/gossh/internal/interactive"
	"github.com/libssh-go/libssh/cmd/gossh/internal/vis"
	"github.com/libssh-go/libssh/ssh"
)

// afterAuth is what ssh does once logged in: the forwards, then -f, then
// the stdio forward (-W), nothing (-N), or the session.
func (r *runner) afterAuth(ctx context.Context, s *ssh.Session, opts ssh.Options) int {
	c, cfg := r.c, r.cfg
	exitOnFwdFailure := cfg.Bool("exitonforwardfailure")
	var fws []*ssh.Forwarder
	if !cfg.Bool("clearallforwardings") {
		var err error
		fws, err = s.StartConfiguredForwards(ctx)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				fmt.Fprintf(r.stderr, "gossh: %s\r\n", vis.String(strings.TrimPrefix(line, "ssh: ")))
			}
			if exitOnFwdFailure {
				return exitFailure
			}
		}
	}
	defer func() {
		for _, fw := range fws {
			_ = fw.Close()
		}
	}()
	listForwards := func() string {
		var b strings.Builder
		b.WriteString("The following connections are open:\n")
		for _, fw := range fws {
			fmt.Fprintf(&b, "  forward listening on %s\r\n", fw.Addr())
		}
		return b.String()
	}

	if c.stdioFwd != "" {
		return r.stdioForward(ctx, s)
	}
	if c.fork {
		forkReady()
	}
	if cfg.Get("sessiontype")[0] == "none" {
		return r.waitForever(ctx, s)
	}

	command := strings.Join(c.command, " ")
	if command == "" {
		if rc := cfg.Get("remotecommand"); len(rc) > 0 {
			command = rc[0]
		}
	}
	esc := '~'
	if v := cfg.Get("escapechar"); len(v) > 0 {
		e, err := parseEscapeChar(v[0])
		if err != nil {
			fmt.Fprintf(r.stderr, "gossh: %s\r\n", err)
			return exitFailure
		}
		esc = rune(e)
	}
	stdinTTY := !c.stdinNull && r.stdinIsTerminal()
	say := func(msg string) {
		if w := r.info(); w != nil {
			fmt.Fprint(w, msg, "\r\n")
		}
	}
	pty := wantPTY(opts.RequestTTY, command != "", false, stdinTTY, c.stdinNull || cfg.Bool("stdinnull"), say)
	var stdin io.Reader = r.stdin
	if c.stdinNull || cfg.Bool("stdinnull") {
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			return r.fail(err)
		}
		defer devnull.Close()
		stdin = devnull
	}
	stdinFd := -1
	if stdinTTY {
		stdinFd = int(r.stdin.Fd())
	}
	so := interactive.Options{
		Command: command, Subsystem: c.subsystem || cfg.Get("sessiontype")[0] == "subsystem",
		PTY: pty, Term: os.Getenv("TERM"), EscapeChar: int(esc),
		Env:          sessionEnv(opts.SendEnv, opts.SetEnv),
		ForwardAgent: opts.ForwardAgent,
		Stdin:        stdin, Stdout: r.stdout, Stderr: r.stderr, StdinFd: stdinFd,
		ListForwards: listForwards, Log: r.log,
		Host: opts.Host, Quiet: r.info() == nil,
	}
	code, err := interactive.Run(ctx, s, so)
	if err != nil {
		r.fail(err)
		return exitFailure
	}
	return code
}

// stdioForward is -W: stdin and stdout joined to a direct-tcpip channel,
// ending when the remote side closes (ssh exits 0 then), or 255 when the
// channel cannot be opened ("stdio forwarding failed").
func (r *runner) stdioForward(ctx context.Context, s *ssh.Session) int {
	conn, err := s.DialContext(ctx, "tcp", r.c.stdioFwd)
	if err != nil {
		fmt.Fprintf(r.stderr, "gossh: %s\r\n", vis.String(strings.TrimPrefix(err.Error(), "ssh: ")))
		fmt.Fprint(r.stderr, "stdio forwarding failed", "\r\n")
		return exitFailure
	}
	defer conn.Close()
	if r.c.fork {
		forkReady()
	}
	go func() {
		_, _ = io.Copy(conn, r.stdin)
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	if _, err := io.Copy(r.stdout, conn); err != nil {
		return r.fail(err)
	}
	return 0
}

// waitForever is -N: the forwards run until the connection ends (255, as
// ssh when the server goes away) or a signal stops us.
func (r *runner) waitForever(ctx context.Context, s *ssh.Session) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	events := s.Events()
	for s.IsConnected() {
		select {
		case <-ctx.Done():
			return exitFailure
		case <-events:
		}
	}
	return exitFailure
}
