package ssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// testCtx is the bound for one test's network waits: generous, so a slow
// -race run never flakes, but finite, so a hang fails instead of stalling.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dialSession returns a Session connected to srv (host key not yet
// decided), disconnected at cleanup.
func dialSession(t *testing.T, srv *sshtest.Server, user string, opts ...Option) *Session {
	t.Helper()
	s := NewSession()
	// ProcessConfig(false): unit tests must not depend on the machine's ssh_config.
	base := []Option{ProcessConfig(false), Hostname(srv.Host()), Port(srv.Port()), User(user), SSHDir(t.TempDir())}
	if err := s.SetOption(append(base, opts...)...); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	return s
}

// acceptedSession is dialSession with the host key accepted.
func acceptedSession(t *testing.T, srv *sshtest.Server, user string, opts ...Option) *Session {
	t.Helper()
	s := dialSession(t, srv, user, opts...)
	if err := s.AcceptHostKey(); err != nil {
		t.Fatalf("AcceptHostKey: %v", err)
	}
	return s
}

// newEd25519 returns a fresh key pair as an x/crypto signer.
func newEd25519(t *testing.T) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeKeyFile writes priv in OpenSSH format (encrypted when passphrase is
// set) and its .pub file, and returns the private key's path.
func writeKeyFile(t *testing.T, dir, name string, passphrase string) (string, gossh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var pemBlock any
	if passphrase == "" {
		pemBlock, err = gossh.MarshalPrivateKey(priv, "test")
	} else {
		pemBlock, err = gossh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := gossh.NewSignerFromKey(priv)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pemEncode(pemBlock), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".pub", gossh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, signer.PublicKey()
}

func pemEncode(block any) []byte {
	return pem.EncodeToMemory(block.(*pem.Block))
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// serveConns accepts on ln and runs handle for each connection on its own
// goroutine. At cleanup it closes the listener and every connection and
// waits for every handler, so goleak sees nothing left.
func serveConns(t *testing.T, ln net.Listener, handle func(net.Conn)) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}
