package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// keyTypes are the key types made for both host and client keys, in the order sshd offers them.
var keyTypes = []string{"ed25519", "ecdsa", "rsa"}

// baseClientKeys are the Env.Keys every Env has.
var baseClientKeys = []string{"ed25519", "ecdsa", "rsa", "ed25519-enc"}

// clientKeySpecs describes every client key an Env can hold, by its name in Env.Keys.
var clientKeySpecs = map[string]keySpec{
	"ed25519":     {typ: "ed25519"},
	"ecdsa":       {typ: "ecdsa", bits: "256"},
	"ecdsa384":    {typ: "ecdsa", bits: "384"},
	"ecdsa521":    {typ: "ecdsa", bits: "521"},
	"rsa":         {typ: "rsa", bits: "2048"},
	"ed25519-enc": {typ: "ed25519", passphrase: KeyPassphrase},
}

// keySpec is one ssh-keygen run.
type keySpec struct {
	path       string
	typ        string // ssh-keygen -t
	bits       string // ssh-keygen -b, or empty
	passphrase string
}

// makeKeys generates the client keys named in clientKeys (keys of clientKeySpecs) and, with
// hostKeys, sshd's host keys with ssh-keygen. It fills Keys (and HostKeyFiles) and returns the
// authorized_keys lines for the client keys, each with comment "libssh-interop-id_NAME".
func (e *Env) makeKeys(t testing.TB, hostKeys bool, clientKeys []string) string {
	t.Helper()
	e.Keys = make(map[string]Key)
	var specs []keySpec
	if hostKeys {
		e.HostKeyFiles = make(map[string]string)
		for _, typ := range keyTypes {
			e.HostKeyFiles[typ] = filepath.Join(e.Dir, "ssh_host_"+typ+"_key")
			specs = append(specs, keySpec{path: e.HostKeyFiles[typ], typ: typ, bits: clientKeySpecs[typ].bits})
		}
	}
	for _, name := range clientKeys {
		s, ok := clientKeySpecs[name]
		if !ok {
			t.Fatalf("interop: no client key %q", name)
		}
		s.path = filepath.Join(e.Dir, "id_"+strings.ReplaceAll(name, "-", "_"))
		e.Keys[name] = Key{Private: s.path, Passphrase: s.passphrase}
		specs = append(specs, s)
	}

	// RSA generation dominates Start's time; the runs are independent.
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() { errs[i] = e.keygen(s) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("interop: %v", err)
		}
	}

	var authorized strings.Builder
	for _, name := range clientKeys {
		k := e.Keys[name]
		k.Public = k.Private + ".pub"
		line, err := os.ReadFile(k.Public)
		if err != nil {
			t.Fatalf("interop: %v", err)
		}
		k.Type, _, _ = strings.Cut(string(line), " ")
		e.Keys[name] = k
		authorized.Write(line)
	}
	return authorized.String()
}

func (e *Env) keygen(s keySpec) error {
	args := []string{"-q", "-t", s.typ, "-N", s.passphrase, "-C", "libssh-interop-" + filepath.Base(s.path), "-f", s.path}
	if s.bits != "" {
		// RSA: 2048 bits take half the time of the 3072-bit default and are still
		// accepted by OpenSSH 9 and Dropbear.
		args = append(args, "-b", s.bits)
	}
	out, err := exec.Command(e.SSHKeygenBin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ssh-keygen %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// writeAuthorizedKeys writes sshd's authorized keys file, named by its AuthorizedKeysFile
// (sshd never reads the user's ~/.ssh/authorized_keys). sshd opens it with User's privileges,
// so the file belongs to that user, as ~/.ssh/authorized_keys would.
func (e *Env) writeAuthorizedKeys(t testing.TB, content string) {
	t.Helper()
	path := filepath.Join(e.Dir, "authorized_keys")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("interop: %v", err)
	}
	if err := os.Chown(path, e.uid, e.gid); err != nil {
		t.Fatalf("interop: %v", err)
	}
}
