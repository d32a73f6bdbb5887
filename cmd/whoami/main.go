// Command whoami is libssh-rs's whoami example, ported to libssh-go: it
// connects, shows the server's host key fingerprint and accepts it,
// authenticates step by step, runs `whoami` and prints the output and the
// exit status.
//
// With no arguments it starts the in-process test server and answers its
// keyboard-interactive prompt itself, so it runs anywhere:
//
//	go run ./cmd/whoami
//
// Given user@host[:port] it talks to a real server, asking on the terminal
// before trusting the host key and for every secret:
//
//	go run ./cmd/whoami alice@example.org
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/libssh-go/libssh/internal/testserver"
	"github.com/libssh-go/libssh/prompt"
	"github.com/libssh-go/libssh/ssh"
)

const (
	demoUser     = "demo"
	demoPassword = "demo-password"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "whoami:", err)
		os.Exit(1)
	}
}

// answerer answers keyboard-interactive prompts.
type answerer func(ssh.InteractiveAuthPrompt) (string, error)

func run(args []string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sess := ssh.NewSession()
	defer sess.Disconnect()

	var answer answerer
	interactive := len(args) > 0
	if !interactive {
		srv, err := testserver.Start(testserver.Config{
			Banner: "libssh-go demo server: in-process, on 127.0.0.1\n",
			Users: map[string]testserver.User{demoUser: {KeyboardInteractive: []testserver.Round{
				{Instruction: "Demo login", Prompts: []string{"Password: "}, Want: []string{demoPassword}},
				{}, // OpenSSH's PAM ends with a round that asks nothing
			}}},
		})
		if err != nil {
			return err
		}
		defer srv.Close()
		fmt.Fprintf(out, "started the in-process server on %s\n", srv.Addr())
		if err := sess.SetOption(ssh.Hostname(srv.Host()), ssh.Port(srv.Port()), ssh.User(demoUser),
			ssh.IdentityAgent("none"), ssh.SSHDir(os.TempDir())); err != nil {
			return err
		}
		answer = func(p ssh.InteractiveAuthPrompt) (string, error) {
			fmt.Fprintf(out, "%s(answered by the demo)\n", p.Prompt)
			return demoPassword, nil
		}
	} else {
		if err := setTarget(sess, args[0]); err != nil {
			return err
		}
		sess.SetAuthCallback(prompt.AuthCallback)
		answer = func(p ssh.InteractiveAuthPrompt) (string, error) {
			return prompt.GetInput(p.Prompt, "", p.Echo, false)
		}
	}

	if err := sess.Connect(ctx); err != nil {
		return err
	}
	banner, _ := sess.ServerBanner()
	fmt.Fprintln(out, "server:", banner)
	if err := verifyHost(sess, interactive, out); err != nil {
		return err
	}
	if err := authenticate(ctx, sess, answer, interactive, out); err != nil {
		return err
	}
	return whoami(ctx, sess, out)
}

// setTarget applies "user@host[:port]".
func setTarget(sess *ssh.Session, target string) error {
	opts := []ssh.Option{}
	host := target
	if h, p, err := net.SplitHostPort(target); err == nil {
		port, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("bad port in %q", target)
		}
		host = h
		opts = append(opts, ssh.Port(port))
	}
	return sess.SetOption(append([]ssh.Option{ssh.Hostname(host)}, opts...)...)
}

// verifyHost follows libssh-rs's whoami: known_hosts decides; an unknown
// key is shown and, if the user trusts it, recorded.
func verifyHost(sess *ssh.Session, interactive bool, out io.Writer) error {
	key, err := sess.ServerPublicKey()
	if err != nil {
		return err
	}
	hash, _ := key.PublicKeyHashHex(ssh.HashSHA256)
	fmt.Fprintf(out, "host key %s %s\n  (sha256 %s)\n", key.Type(), key.Fingerprint(), hash)
	if !interactive {
		fmt.Fprintln(out, "accepting the in-process server's key")
		return sess.AcceptHostKey()
	}
	state, err := sess.IsKnownServer()
	switch state {
	case ssh.KnownHostsOK:
		return nil
	case ssh.KnownHostsChanged:
		return fmt.Errorf("the host key CHANGED; someone could be eavesdropping: %w", err)
	case ssh.KnownHostsOther:
		return fmt.Errorf("the server offers a key of a type not recorded for it; refusing: %w", err)
	}
	if err != nil && state != ssh.KnownHostsUnknown && state != ssh.KnownHostsNotFound {
		return err
	}
	ans, err := prompt.GetInput("The host is unknown. Trust it and record its key? (yes/no): ", "no", true, false)
	if err != nil {
		return err
	}
	if ans != "yes" {
		return errors.New("host key not trusted")
	}
	return sess.UpdateKnownHostsFile()
}

// authenticate is the libssh client loop: none, then the methods the
// server lists, restarting after a partial success.
func authenticate(ctx context.Context, sess *ssh.Session, answer answerer, interactive bool, out io.Writer) error {
	st, err := sess.UserauthNone(ctx, "")
	if err != nil {
		return err
	}
	if b, _ := sess.IssueBanner(); b != "" {
		fmt.Fprint(out, b)
	}
	for st != ssh.AuthSuccess {
		methods, err := sess.UserauthList("")
		if err != nil {
			return err
		}
		switch {
		case methods.Has(ssh.AuthMethodPublicKey) && interactive:
			if st, err = sess.UserauthPublicKeyAuto(ctx, "", ""); err == nil && (st == ssh.AuthSuccess || st == ssh.AuthPartial) {
				continue
			}
			fallthrough
		case methods.Has(ssh.AuthMethodInteractive):
			if st, err = keyboardInteractive(ctx, sess, answer, out); err != nil {
				return err
			}
			if st == ssh.AuthSuccess || st == ssh.AuthPartial {
				continue
			}
			fallthrough
		case methods.Has(ssh.AuthMethodPassword) && interactive:
			pw, err := prompt.GetInput("Password: ", "", false, false)
			if err != nil {
				return err
			}
			if st, err = sess.UserauthPassword(ctx, "", pw); err != nil {
				return err
			}
		default:
			return fmt.Errorf("no usable authentication method (server allows %s)", methods)
		}
		if st == ssh.AuthDenied {
			return errors.New("authentication denied")
		}
	}
	fmt.Fprintln(out, "authenticated")
	return nil
}

func keyboardInteractive(ctx context.Context, sess *ssh.Session, answer answerer, out io.Writer) (ssh.AuthStatus, error) {
	st, err := sess.UserauthKeyboardInteractive(ctx, "", "")
	for err == nil && st == ssh.AuthInfo {
		info, err := sess.UserauthKeyboardInteractiveInfo()
		if err != nil {
			return ssh.AuthError, err
		}
		if text := strings.TrimSpace(info.Name + " " + info.Instruction); text != "" {
			fmt.Fprintln(out, text)
		}
		answers := make([]string, 0, len(info.Prompts))
		for _, p := range info.Prompts {
			a, err := answer(p)
			if err != nil {
				return ssh.AuthError, err
			}
			answers = append(answers, a)
		}
		if err := sess.UserauthKeyboardInteractiveSetAnswers(answers); err != nil {
			return ssh.AuthError, err
		}
		st, err = sess.UserauthKeyboardInteractive(ctx, "", "")
	}
	return st, err
}

func whoami(ctx context.Context, sess *ssh.Session, out io.Writer) error {
	ch, err := sess.NewChannel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.OpenSession(ctx); err != nil {
		return err
	}
	if err := ch.RequestExec(ctx, "whoami"); err != nil {
		return err
	}
	if err := ch.SendEOF(); err != nil {
		return err
	}
	name, err := io.ReadAll(ch.Stdout())
	if err != nil {
		return err
	}
	status, err := ch.ExitStatus(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "whoami: %s", name)
	fmt.Fprintf(out, "exit status: %d\n", status)
	return nil
}
