package ssh

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh/agent"
)

// startAgent serves an in-process agent on a unix socket; handle runs per
// connection (nil: a real keyring holding keys). Stopped at cleanup.
func startAgent(t *testing.T, handle func(net.Conn), keys ...ed25519.PrivateKey) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if handle == nil {
		ring := agent.NewKeyring()
		for _, k := range keys {
			if err := ring.Add(agent.AddedKey{PrivateKey: k}); err != nil {
				t.Fatal(err)
			}
		}
		handle = func(c net.Conn) { _ = agent.ServeAgent(ring, c) }
	}
	serveConns(t, ln, handle)
	return sock
}

func newEd25519Raw(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// agentThatListsThen serves one real identities answer for keys, then
// behaves as then says: "die" closes, "hang" reads forever, "garbage"
// answers junk.
func agentThatListsThen(t *testing.T, then string, keys ...ed25519.PrivateKey) string {
	ring := agent.NewKeyring()
	for _, k := range keys {
		_ = ring.Add(agent.AddedKey{PrivateKey: k})
	}
	return startAgent(t, func(c net.Conn) {
		// First request: answer it properly (the identities list).
		if err := serveOneAgentRequest(ring, c); err != nil {
			return
		}
		switch then {
		case "die":
			return
		case "hang":
			_, _ = io.Copy(io.Discard, c)
		case "garbage":
			buf := make([]byte, 4096)
			if _, err := c.Read(buf); err == nil {
				_, _ = c.Write([]byte{0, 0, 0, 5, 0xff, 1, 2, 3, 4})
			}
			_, _ = io.Copy(io.Discard, c)
		}
	})
}

// serveOneAgentRequest answers exactly one agent request by running
// ServeAgent over a conn that ends after one reply.
func serveOneAgentRequest(ring agent.Agent, c net.Conn) error {
	one := &oneRequestConn{Conn: c}
	err := agent.ServeAgent(ring, one)
	if errors.Is(err, errOneDone) || err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

var errOneDone = errors.New("one request served")

type oneRequestConn struct {
	net.Conn
	wrote bool
}

func (o *oneRequestConn) Read(p []byte) (int, error) {
	if o.wrote {
		return 0, errOneDone
	}
	return o.Conn.Read(p)
}

func (o *oneRequestConn) Write(p []byte) (int, error) {
	o.wrote = true
	return o.Conn.Write(p)
}
