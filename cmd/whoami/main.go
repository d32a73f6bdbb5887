// Command whoami is libssh-rs's whoami example, ported to libssh-go: it
// connects, shows the server's host key fingerprint and the negotiated
// algorithms, checks the key against known_hosts, authenticates step by
// step, runs `whoami` and prints the output and the exit status.
//
// With no argument it starts the in-process test server and answers its
// keyboard-interactive prompt itself, so it runs anywhere:
//
//	go run ./cmd/whoami
//
// Given user@host[:port] it talks to a real server, asking before trusting
// an unknown host key and for every secret. Questions go to standard error;
// answers come from the terminal, or, when standard input is not one, one
// per line from it:
//
//	go run ./cmd/whoami alice@example.org
//
// To run without anyone there, as OpenSSH's BatchMode does, -batch never
// asks: an unknown host key is refused unless -accept-new records it (as
// StrictHostKeyChecking=accept-new), and password and keyboard-interactive
// secrets come from $WHOAMI_PASSWORD (which also answers them without
// -batch):
//
//	WHOAMI_PASSWORD=... go run ./cmd/whoami -batch -accept-new alice@example.org
//
// Exit status: 0 on success, 1 when the connection, the host key check,
// authentication or the command failed, 2 for bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/libssh-go/libssh/prompt"
	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
)

const (
	demoUser     = "demo"
	demoPassword = "demo-password"
)

// passwordEnv names the environment variable that answers password and
// keyboard-interactive prompts.
const passwordEnv = "WHOAMI_PASSWORD"

func main() {
	os.Exit(whoamiMain(os.Args[1:], os.Stdout, os.Stderr))
}

// config is what the command line asks for.
type config struct {
	target    string // user@host[:port]; "" = the in-process server
	batch     bool   // never ask
	acceptNew bool   // record an unknown host key without asking
	password  string // from passwordEnv; "" = ask (or, in batch mode, fail)
}

// whoamiMain runs the command and returns its exit status.
func whoamiMain(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		return 2
	}
	if err := run(cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "whoami:", err)
		return 1
	}
	return 0
}

// parseArgs reads the flags and the optional target. -h and -help print
// the usage (flag.ErrHelp); a bad flag or argument prints the error and the
// usage.
func parseArgs(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("whoami", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&cfg.batch, "batch", false, "never ask (OpenSSH BatchMode): refuse an unknown host key unless -accept-new,\ntake secrets from $"+passwordEnv)
	fs.BoolVar(&cfg.acceptNew, "accept-new", false, "record an unknown host key in known_hosts without asking\n(StrictHostKeyChecking=accept-new); a changed key is still refused")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: whoami [-batch] [-accept-new] [user@host[:port]]

Connects, checks the host key, logs in, runs whoami. Without a target it
uses an in-process demo server. $%s answers password prompts.

`, passwordEnv)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch fs.NArg() {
	case 0:
	case 1:
		cfg.target = fs.Arg(0)
	default:
		fmt.Fprintf(fs.Output(), "whoami: one target at most, got %q\n", fs.Args())
		fs.Usage()
		return cfg, errors.New("too many arguments")
	}
	cfg.password = os.Getenv(passwordEnv)
	return cfg, nil
}

// answerer answers keyboard-interactive prompts.
type answerer func(ssh.InteractiveAuthPrompt) (string, error)

func run(cfg config, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sess := ssh.NewSession()
	defer sess.Disconnect()

	var answer answerer
	real := cfg.target != ""
	if !real {
		srv, err := sshtest.Start(sshtest.Config{
			Banner: "libssh-go demo server: in-process, on 127.0.0.1\n",
			Users: map[string]sshtest.User{demoUser: {KeyboardInteractive: []sshtest.Round{
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
		if err := setTarget(sess, cfg.target); err != nil {
			return err
		}
		if !cfg.batch {
			sess.SetAuthCallback(prompt.AuthCallback) // passphrases of key files
		}
		answer = func(p ssh.InteractiveAuthPrompt) (string, error) { return secret(cfg, p.Prompt, p.Echo) }
	}

	if err := sess.Connect(ctx); err != nil {
		return err
	}
	banner, _ := sess.ServerBanner()
	fmt.Fprintln(out, "server:", banner)
	if err := verifyHost(sess, cfg, out); err != nil {
		return err
	}
	if err := authenticate(ctx, sess, cfg, answer, out); err != nil {
		return err
	}
	return whoami(ctx, sess, out)
}

// secret answers a password or keyboard-interactive prompt: from
// $WHOAMI_PASSWORD for a hidden answer when it is set, else by asking
// (which -batch forbids).
func secret(cfg config, question string, echo bool) (string, error) {
	if !echo && cfg.password != "" {
		return cfg.password, nil
	}
	if cfg.batch {
		return "", fmt.Errorf("-batch: no answer for %q (set $%s)", question, passwordEnv)
	}
	return prompt.GetInput(question, "", echo, false)
}

// setTarget applies "user@host[:port]" (the host in brackets when it is an
// IPv6 address with a port): the port goes to the Port option, since
// Hostname takes none.
func setTarget(sess *ssh.Session, target string) error {
	user, host := "", target
	if at := strings.LastIndexByte(target, '@'); at >= 0 {
		user, host = target[:at+1], target[at+1:]
	}
	opts := []ssh.Option{}
	if h, p, err := net.SplitHostPort(host); err == nil {
		port, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("bad port in %q", target)
		}
		host = h
		opts = append(opts, ssh.Port(port))
	}
	return sess.SetOption(append([]ssh.Option{ssh.Hostname(user + host)}, opts...)...)
}

// verifyHost follows libssh-rs's whoami: the key and the algorithms are
// shown, known_hosts decides; an unknown key is recorded if the user
// trusts it (or -accept-new says so). A changed key, or one of another type
// than the recorded ones, is refused, naming the entry as OpenSSH does.
func verifyHost(sess *ssh.Session, cfg config, out io.Writer) error {
	key, err := sess.ServerPublicKey()
	if err != nil {
		return err
	}
	hash, _ := key.PublicKeyHashHex(ssh.HashSHA256)
	fmt.Fprintf(out, "host key %s %s\n  (sha256 %s)\n", key.Type(), key.Fingerprint(), hash)
	if a, err := sess.Algorithms(); err == nil {
		fmt.Fprintf(out, "kex %s, host key %s, cipher %s/%s\n", a.KeyExchange, a.HostKey, a.CipherCS, a.CipherSC)
	}
	if cfg.target == "" {
		fmt.Fprintln(out, "accepting the in-process server's key")
		return sess.AcceptHostKey()
	}
	state, err := sess.IsKnownServer()
	if err != nil {
		return err // a revoked key, a bad certificate, an unreadable file: the *HostKeyError names it
	}
	switch state {
	case ssh.KnownHostsOK:
		fmt.Fprintln(out, "the host key is known")
		return nil
	case ssh.KnownHostsChanged:
		m, err := sess.KnownHostsMatch()
		if err != nil {
			return err
		}
		return fmt.Errorf("the host key has CHANGED; someone could be eavesdropping, or the key was replaced.\n"+
			"Offending %s key in %s:%d; the server's key is %s", keyTypeName(m.Entry.Key), m.File, m.Line, key.Fingerprint())
	case ssh.KnownHostsOther:
		m, err := sess.KnownHostsMatch()
		if err != nil {
			return err
		}
		return fmt.Errorf("the server shows a %s key, but a %s key is recorded for it in %s:%d; refusing "+
			"(an attacker could offer a type you have not recorded)", keyTypeName(key), keyTypeName(m.Entry.Key), m.File, m.Line)
	}
	switch {
	case cfg.acceptNew:
		fmt.Fprintln(out, "the host is unknown; recording its key (-accept-new)")
	case cfg.batch:
		return errors.New("the host is unknown and -batch does not ask; use -accept-new to trust it")
	default:
		ans, err := prompt.GetInput("The host is unknown. Trust it and record its key? (yes/no): ", "no", true, false)
		if err != nil {
			return err
		}
		if ans != "yes" {
			return errors.New("host key not trusted")
		}
	}
	return sess.UpdateKnownHostsFile()
}

// keyTypeName is the short name OpenSSH's warnings use ("ED25519").
func keyTypeName(k *ssh.Key) string {
	if k == nil {
		return "unknown"
	}
	t := strings.TrimSuffix(k.Type(), "-cert-v01@openssh.com")
	switch {
	case t == "ssh-ed25519":
		return "ED25519"
	case strings.HasPrefix(t, "ecdsa-"):
		return "ECDSA"
	case t == "ssh-rsa":
		return "RSA"
	}
	return t
}

// authenticate is the libssh client loop: none, then the methods the
// server lists, restarting after a partial success.
func authenticate(ctx context.Context, sess *ssh.Session, cfg config, answer answerer, out io.Writer) error {
	real := cfg.target != ""
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
		case methods.Has(ssh.AuthMethodPublicKey) && real:
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
		case methods.Has(ssh.AuthMethodPassword) && real:
			pw, err := secret(cfg, "Password: ", false)
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
