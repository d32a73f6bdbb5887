package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/libssh-go/libssh/cmd/gossh/internal/vis"
	"github.com/libssh-go/libssh/ssh"
)

// errAuthFailed means every method was tried and refused; the message
// ("user@host: Permission denied (methods).") has been printed.
var errAuthFailed = errors.New("permission denied")

// defaultPreferred is OpenSSH's PreferredAuthentications default, without
// the methods gossh cannot do (gssapi-with-mic, hostbased).
var defaultPreferred = []string{"publickey", "keyboard-interactive", "password"}

// authenticator runs OpenSSH's client authentication loop on the library's
// step-by-step calls: the methods in PreferredAuthentications order, each
// only when the server allows it, a partial success starting the list again
// for the next factor.
type authenticator struct {
	s         *ssh.Session
	user      string // remote user, for the prompts
	host      string // the host as given on the command line, for the prompts
	preferred []string
	prompts   int // NumberOfPasswordPrompts
	pubkey    bool
	password  bool
	kbdint    bool
	ask       func(question string, echo bool) (string, error)
	info      io.Writer // logit() output (kbdint name and instruction); nil when quiet
	stderr    io.Writer
	quiet     bool
	// bannerShown is how much of the issue banner was printed: the
	// library accumulates it across steps.
	bannerShown int
}

func (a *authenticator) run(ctx context.Context) error {
	st, err := a.s.UserauthNone(ctx, "")
	if err != nil {
		return err
	}
	a.printBanner()
	if st == ssh.AuthSuccess {
		return nil
	}
	order := a.preferred
	if len(order) == 0 {
		order = defaultPreferred
	}
	tried := map[string]bool{}
	for {
		allowed, err := a.s.UserauthList("")
		if err != nil {
			return err
		}
		progressed := false
		for _, m := range order {
			if tried[m] || !a.enabled(m) || !allowed.Has(methodBit(m)) {
				continue
			}
			tried[m] = true
			st, err := a.try(ctx, m)
			a.printBanner()
			if err != nil && !errors.Is(err, ssh.ErrAuth) {
				return err
			}
			switch st {
			case ssh.AuthSuccess:
				return nil
			case ssh.AuthPartial:
				// Another factor is wanted: every method may be tried again.
				clear(tried)
				progressed = true
			}
			if progressed {
				break
			}
		}
		if !progressed {
			allowed, _ := a.s.UserauthList("")
			fmt.Fprintf(a.stderr, "%s@%s: Permission denied (%s).\r\n", vis.String(a.user), vis.String(a.host), methodList(allowed))
			return errAuthFailed
		}
	}
}

func (a *authenticator) enabled(m string) bool {
	switch m {
	case "publickey":
		return a.pubkey
	case "password":
		return a.password
	case "keyboard-interactive":
		return a.kbdint
	}
	return false
}

func methodBit(m string) ssh.AuthMethods {
	switch m {
	case "publickey":
		return ssh.AuthMethodPublicKey
	case "password":
		return ssh.AuthMethodPassword
	case "keyboard-interactive":
		return ssh.AuthMethodInteractive
	}
	return 0
}

func (a *authenticator) try(ctx context.Context, m string) (ssh.AuthStatus, error) {
	switch m {
	case "publickey":
		return a.s.UserauthPublicKeyAuto(ctx, "", "")
	case "password":
		return a.passwordLoop(ctx)
	case "keyboard-interactive":
		return a.kbdintLoop(ctx)
	}
	return ssh.AuthDenied, nil
}

// passwordLoop asks "user@host's password: " up to NumberOfPasswordPrompts
// times, saying "Permission denied, please try again." between attempts.
func (a *authenticator) passwordLoop(ctx context.Context) (ssh.AuthStatus, error) {
	for i := 0; i < a.prompts; i++ {
		if i > 0 {
			fmt.Fprint(a.stderr, "Permission denied, please try again.", "\r\n")
		}
		pw, err := a.ask(fmt.Sprintf("%s@%s's password: ", vis.String(a.user), vis.String(a.host)), false)
		if err != nil {
			return ssh.AuthDenied, nil
		}
		st, err := a.s.UserauthPassword(ctx, "", pw)
		if st != ssh.AuthDenied || err != nil && !errors.Is(err, ssh.ErrAuth) {
			return st, err
		}
	}
	return ssh.AuthDenied, nil
}

// kbdintLoop answers keyboard-interactive rounds as OpenSSH's
// input_userauth_info_req: the name and instruction shown (made safe to
// print), each prompt asked with the echo the server chose. A round with
// prompts counts against NumberOfPasswordPrompts.
func (a *authenticator) kbdintLoop(ctx context.Context) (ssh.AuthStatus, error) {
	attempts := 0
	for {
		st, err := a.s.UserauthKeyboardInteractive(ctx, "", "")
		if st != ssh.AuthInfo {
			if st == ssh.AuthDenied && attempts > 0 && attempts < a.prompts {
				fmt.Fprint(a.stderr, "Permission denied, please try again.", "\r\n")
				continue
			}
			return st, err
		}
		info, err := a.s.UserauthKeyboardInteractiveInfo()
		if err != nil {
			return ssh.AuthError, err
		}
		if len(info.Prompts) > 0 {
			attempts++
			if attempts > a.prompts {
				return ssh.AuthDenied, nil
			}
		}
		if a.info != nil {
			if info.Name != "" {
				fmt.Fprintln(a.info, vis.String(info.Name))
			}
			if info.Instruction != "" {
				fmt.Fprintln(a.info, vis.String(strings.TrimRight(info.Instruction, "\n")))
			}
		}
		answers := make([]string, len(info.Prompts))
		for i, p := range info.Prompts {
			ans, err := a.ask(vis.String(p.Prompt), p.Echo)
			if err != nil {
				return ssh.AuthDenied, nil
			}
			answers[i] = ans
		}
		if err := a.s.UserauthKeyboardInteractiveSetAnswers(answers); err != nil {
			return ssh.AuthError, err
		}
	}
}

// printBanner shows the server's issue banner on stderr, made safe to
// print, unless LogLevel is QUIET (or lower), as ssh does.
func (a *authenticator) printBanner() {
	if a.quiet {
		return
	}
	b, err := a.s.IssueBanner()
	if err != nil || len(b) <= a.bannerShown {
		return
	}
	fmt.Fprint(a.stderr, vis.String(b[a.bannerShown:]))
	a.bannerShown = len(b)
}

// methodList names the allowed methods in sshd's order (auth2.c's
// authmethods table), as the server lists them in its failure message.
func methodList(m ssh.AuthMethods) string {
	var names []string
	for _, n := range []struct {
		bit  ssh.AuthMethods
		name string
	}{
		{ssh.AuthMethodPublicKey, "publickey"}, {ssh.AuthMethodGSSAPIMic, "gssapi-with-mic"},
		{ssh.AuthMethodPassword, "password"}, {ssh.AuthMethodInteractive, "keyboard-interactive"},
		{ssh.AuthMethodHostBased, "hostbased"},
	} {
		if m.Has(n.bit) {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}
