package knownhosts_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/knownhosts"
	"github.com/libssh-go/libssh/sshtest"
	"golang.org/x/crypto/ssh"
)

// dialWith connects a plain x/crypto client to srv with the callback of
// the known_hosts file kh, and host key algorithms ordered by it when
// order is set.
func dialWith(t *testing.T, srv *sshtest.Server, kh string, order bool) error {
	t.Helper()
	db, err := knownhosts.Load(kh)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ClientConfig{
		User:            "u",
		Auth:            []ssh.AuthMethod{ssh.Password("pw")},
		HostKeyCallback: db.HostKeyCallback(),
		Timeout:         10 * time.Second,
	}
	if order {
		all := []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
		cfg.HostKeyAlgorithms = db.HostKeyAlgorithms(knownhosts.HostName(srv.Host(), srv.Port()), all)
	}
	c, err := ssh.Dial("tcp", srv.Addr(), cfg)
	if err == nil {
		return c.Close()
	}
	return err
}

func TestHostKeyCallbackWithXCrypto(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	name := knownhosts.HostName(srv.Host(), srv.Port())
	keyOf := func(typ string) ssh.PublicKey {
		for _, k := range srv.HostKeys() {
			if k.Type() == typ {
				return k
			}
		}
		t.Fatalf("server has no %s key", typ)
		return nil
	}
	line := func(hosts string, k ssh.PublicKey) string {
		return hosts + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
	}
	ed := keyOf(ssh.KeyAlgoED25519)
	ec := keyOf(ssh.KeyAlgoECDSA256)
	otherEd := sshtest.NewSigner(t, ssh.KeyAlgoED25519).PublicKey()
	write := func(t *testing.T, lines ...string) string {
		path := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("known", func(t *testing.T) {
		if err := dialWith(t, srv, write(t, strings.TrimSpace(srv.KnownHostsLine())), false); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("only ed25519 known, algorithms ordered", func(t *testing.T) {
		if err := dialWith(t, srv, write(t, "# x", line(name, ed)), true); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("only ed25519 known, not ordered", func(t *testing.T) {
		// x/crypto prefers ECDSA: the server shows a key of a type the
		// file does not hold (the classic x/crypto "key mismatch").
		err := dialWith(t, srv, write(t, "# x", line(name, ed)), false)
		var ke *knownhosts.KeyError
		if !errors.As(err, &ke) || ke.State != knownhosts.Other || !errors.Is(err, knownhosts.ErrKeyUnknown) ||
			ke.Entry == nil || ke.Entry.Line != 2 || len(ke.Want) != 1 || ke.Want[0].Key.Type() != ssh.KeyAlgoED25519 {
			t.Fatalf("Dial: %v (%+v)", err, ke)
		}
	})
	// From here on the server has only its ed25519 key.
	srv = sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "pw"}}, HostKeyAlgorithms: []string{ssh.KeyAlgoED25519}})
	name = knownhosts.HostName(srv.Host(), srv.Port())
	ed = keyOf(ssh.KeyAlgoED25519)
	for _, c := range []struct {
		name    string
		lines   func(t *testing.T) string
		state   knownhosts.State
		line    int
		wantErr error
	}{
		{"no file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "none") }, knownhosts.NotFound, 0, knownhosts.ErrKeyUnknown},
		{"unknown", func(t *testing.T) string { return write(t, line("elsewhere.example", ed)) }, knownhosts.Unknown, 0, knownhosts.ErrKeyUnknown},
		{"other port", func(t *testing.T) string { return write(t, line(srv.Host(), ed)) }, knownhosts.Unknown, 0, knownhosts.ErrKeyUnknown},
		{"other type", func(t *testing.T) string { return write(t, line(name, ec)) }, knownhosts.Other, 1, knownhosts.ErrKeyUnknown},
		{"changed", func(t *testing.T) string { return write(t, line(name, ec), line(name, otherEd)) }, knownhosts.Changed, 2, knownhosts.ErrKeyChanged},
		{"revoked", func(t *testing.T) string { return write(t, line(name, ed), "@revoked * "+line("", ed)[1:]) }, knownhosts.Changed, 2, knownhosts.ErrRevoked},
	} {
		t.Run(c.name, func(t *testing.T) {
			kh := c.lines(t)
			err := dialWith(t, srv, kh, false)
			var ke *knownhosts.KeyError
			if !errors.As(err, &ke) || ke.State != c.state || !errors.Is(err, c.wantErr) || ke.Host != name {
				t.Fatalf("Dial: %v (%+v)", err, ke)
			}
			if line := 0; ke.Entry != nil {
				line = ke.Entry.Line
				if line != c.line || ke.Entry.File != kh {
					t.Fatalf("entry %s:%d, want %s:%d", ke.Entry.File, line, kh, c.line)
				}
			} else if c.line != 0 {
				t.Fatalf("no entry, want line %d", c.line)
			}
			if ke.Key == nil || !strings.Contains(err.Error(), ssh.FingerprintSHA256(ke.Key)) {
				t.Fatalf("error without the key: %v", err)
			}
		})
	}
	// The second server refused every time: no credential reached it.
	if log := srv.AuthLog(); len(log) != 0 {
		t.Errorf("auth attempts after a refused host key: %+v", log)
	}
}

// TestHostKeyCallbackFailsClosed: a nil DB, a nil key and an address
// without a port never accept.
func TestHostKeyCallbackFailsClosed(t *testing.T) {
	key := sshtest.NewSigner(t, ssh.KeyAlgoED25519).PublicKey()
	var db *knownhosts.DB
	if err := db.HostKeyCallback()("h:22", nil, key); !errors.Is(err, knownhosts.ErrKeyUnknown) {
		t.Fatalf("nil DB: %v", err)
	}
	db, err := knownhosts.Read(strings.NewReader("h "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))+"\n"), "kh")
	if err != nil {
		t.Fatal(err)
	}
	cb := db.HostKeyCallback()
	if err := cb("h:22", nil, nil); err == nil {
		t.Fatal("nil key accepted")
	}
	for _, addr := range []string{"h:22", "h", "H:22"} {
		if err := cb(addr, nil, key); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
	for _, addr := range []string{"h:2222", "[h]:2222", "x:22"} {
		if err := cb(addr, nil, key); err == nil {
			t.Errorf("%s accepted", addr)
		}
	}
	if _, err := knownhosts.HostKeyCallback(t.TempDir()); !errors.Is(err, knownhosts.ErrFile) {
		t.Fatalf("HostKeyCallback(directory): %v", err)
	}
}
