package interop

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// TestDropbearEnvCredentials checks every credential a Dropbear Env hands out, and every host
// key against KnownHostsFile, with x/crypto and OpenSSH's ssh as clients.
func TestDropbearEnvCredentials(t *testing.T) {
	e := StartDropbear(t, DropbearOptions{})

	out, err := e.SSH(t, "whoami").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != e.User {
		t.Fatalf("ssh whoami: %q, %v", out, err)
	}

	auths := map[string]ssh.AuthMethod{"agent": agentAuth(t, e)}
	for name, k := range e.Keys {
		pem, err := os.ReadFile(k.Private)
		if err != nil {
			t.Fatal(err)
		}
		var s ssh.Signer
		if k.Passphrase != "" {
			s, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(k.Passphrase))
		} else {
			s, err = ssh.ParsePrivateKey(pem)
		}
		if err != nil {
			t.Fatalf("key %s: %v", name, err)
		}
		if got := s.PublicKey().Type(); got != k.Type {
			t.Errorf("key %s has type %q, Key.Type is %q", name, got, k.Type)
		}
		auths["key "+name] = ssh.PublicKeys(s)
	}
	for _, name := range []string{"ecdsa384", "ecdsa521"} {
		if _, ok := e.Keys[name]; !ok {
			t.Errorf("no client key %q", name)
		}
	}
	auths["password"] = ssh.Password(e.Password)
	for name, auth := range auths {
		t.Run(name, func(t *testing.T) {
			if name == "password" {
				e.SkipWithoutPassword(t)
			}
			if got := whoami(t, e, nil, auth); got != e.User {
				t.Errorf("whoami = %q, want %q", got, e.User)
			}
		})
	}
	// Dropbear 2022.83 signs with rsa-sha2-256 but not rsa-sha2-512.
	for _, alg := range []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSASHA256} {
		t.Run("hostkey "+alg, func(t *testing.T) {
			whoami(t, e, []string{alg}, auths["key ed25519"])
		})
	}
}

func agentAuth(t *testing.T, e *Env) ssh.AuthMethod {
	t.Helper()
	c, err := net.Dial("unix", e.AgentSock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return ssh.PublicKeysCallback(agent.NewClient(c).Signers)
}

// Dropbear reads only ~/.ssh/authorized_keys, which Envs in this and other processes share:
// each Env adds its own lines and removes only those, another Env's lines (and lines of
// anyone else) stay, and lines of an Env whose directory is gone are dropped.
func TestDropbearAuthorizedKeysAreShared(t *testing.T) {
	e := StartDropbear(t, DropbearOptions{NoAgent: true})
	path := filepath.Join(e.home, ".ssh", "authorized_keys")

	// A line of another, living Env, and one of an Env whose process died.
	other, err := os.MkdirTemp("", "libssh-interop-other-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(other)
	foreign := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOJ0c3Rfa2V5X29mX2Fub3RoZXJfZW52X3BhZGRp " + homeKeyMarker + other
	stale := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN0YWxlX2tleV9vZl9hX2RlYWRfcHJvY2Vzc19wYWRk " + homeKeyMarker + other + "-gone"
	add := &Env{Dir: other, home: e.home, uid: e.uid, gid: e.gid}
	sshDir := filepath.Dir(path)
	if err := add.editHomeKeys(sshDir, func(kept []string) []string { return append(kept, foreign, stale) }); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := add.editHomeKeys(sshDir, func(kept []string) []string { return kept }); err != nil {
			t.Error(err)
		}
	}()

	var second *Env
	t.Run("second env", func(t *testing.T) {
		second = StartDropbear(t, DropbearOptions{NoAgent: true})
		data := readFile(t, path)
		for _, env := range []*Env{e, second} {
			if n := strings.Count(data, homeKeyMarker+env.Dir+"\n"); n != len(dropbearClientKeys) {
				t.Errorf("%d lines of %s in authorized_keys, want %d:\n%s", n, env.Dir, len(dropbearClientKeys), data)
			}
			whoami(t, env, nil, keyAuth(t, env, "ecdsa521"))
		}
		if !strings.Contains(data, foreign+"\n") {
			t.Errorf("another Env's line is gone:\n%s", data)
		}
		if strings.Contains(data, stale) {
			t.Errorf("the stale line is still there:\n%s", data)
		}
	})
	if second == nil {
		return
	}
	data := readFile(t, path)
	if strings.Contains(data, second.Dir) {
		t.Errorf("the second Env's lines outlived it:\n%s", data)
	}
	if !strings.Contains(data, foreign+"\n") || strings.Count(data, homeKeyMarker+e.Dir+"\n") != len(dropbearClientKeys) {
		t.Errorf("the cleanup of the second Env removed other lines:\n%s", data)
	}
	whoami(t, e, nil, keyAuth(t, e, "ed25519"))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("authorized_keys has mode %v", fi.Mode())
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
