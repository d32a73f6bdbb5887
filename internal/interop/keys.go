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

// keySpec is one ssh-keygen run.
type keySpec struct {
	path       string
	typ        string // ssh-keygen -t
	passphrase string
}

// makeKeys generates the host keys and client keys with ssh-keygen, fills HostKeyFiles and Keys,
// and writes the authorized keys file for TestUser.
func (e *Env) makeKeys(t testing.TB) {
	t.Helper()
	e.HostKeyFiles = make(map[string]string)
	e.Keys = make(map[string]Key)
	var specs []keySpec
	for _, typ := range keyTypes {
		e.HostKeyFiles[typ] = filepath.Join(e.Dir, "ssh_host_"+typ+"_key")
		specs = append(specs, keySpec{path: e.HostKeyFiles[typ], typ: typ})
		e.Keys[typ] = Key{Private: filepath.Join(e.Dir, "id_"+typ)}
		specs = append(specs, keySpec{path: e.Keys[typ].Private, typ: typ})
	}
	e.Keys["ed25519-enc"] = Key{Private: filepath.Join(e.Dir, "id_ed25519_enc"), Passphrase: KeyPassphrase}
	specs = append(specs, keySpec{path: e.Keys["ed25519-enc"].Private, typ: "ed25519", passphrase: KeyPassphrase})

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
	for _, name := range []string{"ed25519", "ecdsa", "rsa", "ed25519-enc"} {
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
	e.writeAuthorizedKeys(t, authorized.String())
}

func (e *Env) keygen(s keySpec) error {
	args := []string{"-q", "-t", s.typ, "-N", s.passphrase, "-C", "libssh-interop-" + filepath.Base(s.path), "-f", s.path}
	switch s.typ {
	case "rsa":
		// Half the time of the 3072-bit default; still accepted by OpenSSH 9.
		args = append(args, "-b", "2048")
	case "ecdsa":
		args = append(args, "-b", "256")
	}
	out, err := exec.Command(e.SSHKeygenBin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ssh-keygen %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// writeAuthorizedKeys writes the authorized keys file. sshd opens it with TestUser's privileges,
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
