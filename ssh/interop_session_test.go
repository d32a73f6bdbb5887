package ssh

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/libssh-go/libssh/internal/interop"
)

// interopSession connects to the real sshd and accepts its key after
// checking it against the known_hosts file the harness wrote from the
// server's own key files.
func interopSession(t *testing.T, env *interop.Env, opts ...Option) *Session {
	t.Helper()
	s := NewSession()
	base := []Option{ProcessConfig(false), Hostname(env.Host), Port(env.Port), User(env.User), SSHDir(t.TempDir()), IdentityAgent("none")}
	if err := s.SetOption(append(base, opts...)...); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	banner, err := s.ServerBanner()
	if err != nil || !strings.HasPrefix(banner, "SSH-2.0-OpenSSH_") {
		t.Fatalf("ServerBanner = %q, %v", banner, err)
	}
	key, err := s.ServerPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	known, err := os.ReadFile(env.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(known), key.AuthorizedKey()) {
		t.Fatalf("server key %s is not in the harness's known_hosts", key.Fingerprint())
	}
	if err := s.AcceptHostKey(); err != nil {
		t.Fatal(err)
	}
	return s
}

func interopWhoami(t *testing.T, s *Session) string {
	t.Helper()
	ctx := testCtx(t)
	ch, err := s.NewChannel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.OpenSession(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ch.RequestExec(ctx, "whoami"); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(ch.Stdout())
	if err != nil {
		t.Fatal(err)
	}
	if st, err := ch.ExitStatus(ctx); st != 0 || err != nil {
		t.Fatalf("exit status %d, %v", st, err)
	}
	return strings.TrimSpace(string(out))
}

func TestInteropPasswordAndPAMKeyboardInteractive(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	env.SkipWithoutPassword(t)
	t.Run("keyboard-interactive", func(t *testing.T) {
		s := interopSession(t, env)
		if st, err := s.UserauthNone(testCtx(t), ""); st != AuthDenied || err != nil {
			t.Fatalf("none: %v, %v", st, err)
		}
		m, _ := s.UserauthList("")
		if !m.Has(AuthMethodInteractive) || !m.Has(AuthMethodPublicKey) {
			t.Fatalf("methods %v", m)
		}
		st, rounds := kbdintLoop(t, s, func(info InteractiveAuthInfo) []string {
			if len(info.Prompts) == 0 {
				return nil
			}
			return []string{env.Password}
		})
		if st != AuthSuccess {
			t.Fatalf("kbdint: %v", st)
		}
		// PAM asks for the password, then sends a round with no prompts.
		if len(rounds) < 1 || len(rounds[0].Prompts) != 1 || !strings.Contains(rounds[0].Prompts[0].Prompt, "assword") {
			t.Fatalf("rounds %+v", rounds)
		}
		if who := interopWhoami(t, s); who != env.User {
			t.Fatalf("whoami = %q", who)
		}
	})
	t.Run("password", func(t *testing.T) {
		s := interopSession(t, env)
		if st, err := s.UserauthPassword(testCtx(t), "", "wrong-"+env.Password); st != AuthDenied || err != nil {
			t.Fatalf("wrong password: %v, %v", st, err)
		}
		if st, err := s.UserauthPassword(testCtx(t), "", env.Password); st != AuthSuccess || err != nil {
			t.Fatalf("password: %v, %v", st, err)
		}
		if who := interopWhoami(t, s); who != env.User {
			t.Fatalf("whoami = %q", who)
		}
	})
}

func TestInteropPublicKeys(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	for _, name := range []string{"ed25519", "ecdsa", "rsa"} {
		t.Run(name, func(t *testing.T) {
			k := env.Keys[name]
			key, err := ParsePrivateKeyFile(k.Private, "")
			if err != nil {
				t.Fatal(err)
			}
			s := interopSession(t, env)
			if st, err := s.UserauthTryPublicKey(testCtx(t), "", NewKey(key.PublicKey())); st != AuthSuccess || err != nil {
				t.Fatalf("try: %v, %v", st, err)
			}
			if st, err := s.UserauthPublicKey(testCtx(t), "", key); st != AuthSuccess || err != nil {
				t.Fatalf("publickey: %v, %v", st, err)
			}
			if who := interopWhoami(t, s); who != env.User {
				t.Fatalf("whoami = %q", who)
			}
		})
	}
	t.Run("encrypted via auto and callback", func(t *testing.T) {
		k := env.Keys["ed25519-enc"]
		s := interopSession(t, env, AddIdentity(k.Private))
		var prompts int
		s.SetAuthCallback(func(prompt string, echo, verify bool, identity string) (string, error) {
			prompts++
			if identity != k.Private || echo {
				t.Errorf("callback got identity %q echo %v", identity, echo)
			}
			return k.Passphrase, nil
		})
		if st, err := s.UserauthPublicKeyAuto(testCtx(t), "", ""); st != AuthSuccess || err != nil {
			t.Fatalf("auto: %v, %v", st, err)
		}
		if prompts != 1 {
			t.Fatalf("asked %d times for the passphrase", prompts)
		}
	})
}

func TestInteropAgent(t *testing.T) {
	env := interop.Start(t, interop.Options{})
	s := interopSession(t, env, IdentityAgent(env.AgentSock))
	if st, err := s.UserauthAgent(testCtx(t), ""); st != AuthSuccess || err != nil {
		t.Fatalf("agent: %v, %v", st, err)
	}
	if who := interopWhoami(t, s); who != env.User {
		t.Fatalf("whoami = %q", who)
	}
}

func TestInteropTwoFactors(t *testing.T) {
	env := interop.Start(t, interop.Options{AuthenticationMethods: "publickey,keyboard-interactive", NoAgent: true})
	k := env.Keys["ecdsa"]
	s := interopSession(t, env, AddIdentity(k.Private))
	trail, err := weztermAuthLoop(testCtx(t), s, "", func(p InteractiveAuthPrompt) string { return env.Password }, env.Password)
	if err != nil {
		t.Fatal(err)
	}
	if len(trail) != 2 || trail[0] != "publickey" || trail[1] != "keyboard-interactive" {
		t.Fatalf("trail %v, want publickey then keyboard-interactive", trail)
	}
	if who := interopWhoami(t, s); who != env.User {
		t.Fatalf("whoami = %q", who)
	}
}
