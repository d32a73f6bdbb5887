package ssh

import (
	"context"
	"fmt"
	"testing"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// weztermAuthLoop is the call order of wezterm-ssh's authentication loop:
// none, then list, then public keys, keyboard-interactive rounds and
// password as the list allows, restarting from the list after a partial
// success. It returns the methods that succeeded or partially succeeded.
func weztermAuthLoop(ctx context.Context, s *Session, passphrase string, answer func(InteractiveAuthPrompt) string, password string) ([]string, error) {
	var trail []string
	st, err := s.UserauthNone(ctx, "")
	if err != nil {
		return nil, err
	}
	if st == AuthSuccess {
		return []string{"none"}, nil
	}
	tried := map[string]bool{}
	for round := 0; round < 10; round++ {
		methods, err := s.UserauthList("")
		if err != nil {
			return trail, err
		}
		var method string
		switch {
		case methods.Has(AuthMethodPublicKey) && !tried["publickey"]:
			method = "publickey"
			st, err = s.UserauthPublicKeyAuto(ctx, "", passphrase)
		case methods.Has(AuthMethodInteractive) && !tried["keyboard-interactive"]:
			method = "keyboard-interactive"
			st, err = s.UserauthKeyboardInteractive(ctx, "", "")
			for err == nil && st == AuthInfo {
				info, ierr := s.UserauthKeyboardInteractiveInfo()
				if ierr != nil {
					return trail, ierr
				}
				answers := make([]string, len(info.Prompts))
				for i, p := range info.Prompts {
					answers[i] = answer(p)
				}
				if err = s.UserauthKeyboardInteractiveSetAnswers(answers); err != nil {
					return trail, err
				}
				st, err = s.UserauthKeyboardInteractive(ctx, "", "")
			}
		case methods.Has(AuthMethodPassword) && !tried["password"]:
			method = "password"
			st, err = s.UserauthPassword(ctx, "", password)
		default:
			return trail, fmt.Errorf("no method left; server allows %s", methods)
		}
		if err != nil {
			return trail, fmt.Errorf("%s: %w", method, err)
		}
		tried[method] = true
		switch st {
		case AuthSuccess:
			return append(trail, method), nil
		case AuthPartial:
			trail = append(trail, method)
			clear(tried) // a new factor: every method is worth trying again
		}
	}
	return trail, fmt.Errorf("too many rounds")
}

func TestWeztermAuthLoopAgainstTestServer(t *testing.T) {
	dir := t.TempDir()
	_, pub := writeKeyFile(t, dir, "id_ed25519", "")
	srv := sshtest.New(t, sshtest.Config{
		AuthSequence: []string{"publickey", "keyboard-interactive"},
		Users: map[string]sshtest.User{"u": {
			AuthorizedKeys:      []gossh.PublicKey{pub},
			KeyboardInteractive: []sshtest.Round{{Prompts: []string{"Password: "}, Want: []string{"pw"}}, {}},
		}},
	})
	s := acceptedSession(t, srv, "u", SSHDir(dir), IdentityAgent("none"))
	trail, err := weztermAuthLoop(testCtx(t), s, "", func(InteractiveAuthPrompt) string { return "pw" }, "")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(trail) != "[publickey keyboard-interactive]" {
		t.Fatalf("trail %v", trail)
	}
}

func TestWeztermAuthLoopFallsBackToPassword(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {
		Password:            "pw",
		KeyboardInteractive: []sshtest.Round{{Prompts: []string{"Code: "}, Want: []string{"right"}}},
	}}})
	s := acceptedSession(t, srv, "u", IdentityAgent("none"))
	trail, err := weztermAuthLoop(testCtx(t), s, "", func(InteractiveAuthPrompt) string { return "wrong" }, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(trail) != "[password]" {
		t.Fatalf("trail %v", trail)
	}
}
