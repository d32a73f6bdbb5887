package ssh

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/libssh-go/libssh/internal/interop"
	gossh "golang.org/x/crypto/ssh"
)

// Benchmarks are figures, not tests: they print MB/s for this library and
// for raw x/crypto/ssh against the same OpenSSH sshd. The bench tool
// (internal/cmd/sshbench) adds the OpenSSH client and the full table.

const benchBytes = 256 << 20

func benchEnv(b *testing.B) *interop.Env {
	return interop.Start(b, interop.Options{NoAgent: true})
}

func benchLib(b *testing.B, env *interop.Env, cipher string) *Session {
	s := NewSession()
	opts := []Option{ProcessConfig(false), Hostname(env.Host), Port(env.Port), User(env.User), SSHDir(b.TempDir()), IdentityAgent("none")}
	if cipher != "" {
		opts = append(opts, CiphersCS(cipher))
	}
	if err := s.SetOption(opts...); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Disconnect() })
	_ = s.AcceptHostKey()
	key, err := ParsePrivateKeyFile(env.Keys["ed25519"].Private, "")
	if err != nil {
		b.Fatal(err)
	}
	if st, err := s.UserauthPublicKey(ctx, "", key); st != AuthSuccess {
		b.Fatal(st, err)
	}
	return s
}

func benchRaw(b *testing.B, env *interop.Env, cipher string) *gossh.Client {
	key, err := os.ReadFile(env.Keys["ed25519"].Private)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := gossh.ParsePrivateKey(key)
	if err != nil {
		b.Fatal(err)
	}
	cfg := &gossh.ClientConfig{User: env.User, Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey()}
	if cipher != "" {
		cfg.Ciphers = []string{cipher}
	}
	c, err := gossh.Dial("tcp", env.Addr, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

func BenchmarkDownload(b *testing.B) {
	env := benchEnv(b)
	cmd := fmt.Sprintf("head -c %d /dev/zero", benchBytes)
	for _, cipher := range []string{"aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"} {
		b.Run("lib/"+cipher, func(b *testing.B) {
			s := benchLib(b, env, cipher)
			b.SetBytes(benchBytes)
			for b.Loop() {
				ch, _ := s.NewChannel()
				if err := ch.OpenSession(context.Background()); err != nil {
					b.Fatal(err)
				}
				_ = ch.RequestExec(context.Background(), cmd)
				n, err := io.Copy(io.Discard, ch)
				if err != nil || n != benchBytes {
					b.Fatal(n, err)
				}
				_ = ch.Close()
			}
		})
		b.Run("xcrypto/"+cipher, func(b *testing.B) {
			c := benchRaw(b, env, cipher)
			b.SetBytes(benchBytes)
			for b.Loop() {
				sess, err := c.NewSession()
				if err != nil {
					b.Fatal(err)
				}
				out, _ := sess.StdoutPipe()
				_ = sess.Start(cmd)
				n, err := io.Copy(io.Discard, out)
				if err != nil || n != benchBytes {
					b.Fatal(n, err)
				}
				_ = sess.Wait()
				_ = sess.Close()
			}
		})
	}
}

func BenchmarkUpload(b *testing.B) {
	env := benchEnv(b)
	const cmd = "cat > /dev/null"
	for _, cipher := range []string{"aes128-gcm@openssh.com"} {
		b.Run("lib/"+cipher, func(b *testing.B) {
			s := benchLib(b, env, cipher)
			b.SetBytes(benchBytes)
			for b.Loop() {
				ch, _ := s.NewChannel()
				if err := ch.OpenSession(context.Background()); err != nil {
					b.Fatal(err)
				}
				_ = ch.RequestExec(context.Background(), cmd)
				if _, err := io.Copy(ch, io.LimitReader(yesReader{}, benchBytes)); err != nil {
					b.Fatal(err)
				}
				_ = ch.SendEOF()
				_, _ = ch.ExitStatus(context.Background())
				_ = ch.Close()
			}
		})
		b.Run("xcrypto/"+cipher, func(b *testing.B) {
			c := benchRaw(b, env, cipher)
			b.SetBytes(benchBytes)
			for b.Loop() {
				sess, _ := c.NewSession()
				in, _ := sess.StdinPipe()
				_ = sess.Start(cmd)
				if _, err := io.Copy(in, io.LimitReader(yesReader{}, benchBytes)); err != nil {
					b.Fatal(err)
				}
				_ = in.Close()
				_ = sess.Wait()
				_ = sess.Close()
			}
		})
	}
}
