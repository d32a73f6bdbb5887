package knownhosts

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestDBZeroAndNil(t *testing.T) {
	key := khSigner(t, ssh.KeyAlgoED25519).PublicKey()
	for _, db := range []*DB{nil, {}, load(t)} {
		if res, err := db.Lookup("h", 22, key); res.State != NotFound || err != nil || res.Entry != nil {
			t.Errorf("%v: %+v, %v", db, res, err)
		}
		if types, ca := db.KeyTypes("h"); types != nil || ca {
			t.Errorf("KeyTypes: %v %v", types, ca)
		}
		if got := db.HostKeyAlgorithms("h", []string{"a", "b"}); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("HostKeyAlgorithms: %v", got)
		}
		if db.Files() != nil && len(db.Files()) != 0 {
			t.Errorf("Files: %v", db.Files())
		}
		for e, err := range db.All() {
			t.Errorf("All yields %v, %v", e, err)
		}
	}
	db := load(t, t.TempDir()+"/missing", t.TempDir()+"/also-missing")
	if res, _ := db.Lookup("h", 22, key); res.State != NotFound || len(db.Files()) != 0 {
		t.Fatalf("missing files: %v %v", res.State, db.Files())
	}
}

func TestDBKeyTypesAndOrdering(t *testing.T) {
	rsa := khSigner(t, ssh.KeyAlgoRSA).PublicKey()
	ed := khSigner(t, ssh.KeyAlgoED25519).PublicKey()
	ec := khSigner(t, ssh.KeyAlgoECDSA256).PublicKey()
	text := strings.Join([]string{
		khLine("h", ed), khLine("h,other", rsa), khLine("h", ed),
		"@revoked h " + authorizedKey(ec), "@cert-authority c " + authorizedKey(ed), khLine("c", ec),
	}, "\n")
	db, err := Read(strings.NewReader(text), "kh")
	if err != nil {
		t.Fatal(err)
	}
	algs := []string{"ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp256", "ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256-cert-v01@openssh.com", "rsa-sha2-256"}
	for _, c := range []struct {
		name  string
		types []string
		ca    bool
		order []string
	}{
		{"h", []string{"ssh-ed25519", "ssh-rsa"}, false, []string{"ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp256", "rsa-sha2-256-cert-v01@openssh.com"}},
		{"c", []string{"ecdsa-sha2-nistp256"}, true, []string{"ecdsa-sha2-nistp256-cert-v01@openssh.com", "rsa-sha2-256-cert-v01@openssh.com", "ecdsa-sha2-nistp256", "ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256"}},
		{"nobody", nil, false, algs},
	} {
		types, ca := db.KeyTypes(c.name)
		if !slices.Equal(types, c.types) || ca != c.ca {
			t.Errorf("KeyTypes(%s) = %v, %v; want %v, %v", c.name, types, ca, c.types, c.ca)
		}
		if got := db.HostKeyAlgorithms(c.name, algs); !slices.Equal(got, c.order) {
			t.Errorf("HostKeyAlgorithms(%s) = %v, want %v", c.name, got, c.order)
		}
	}
}

// TestDBHostileFile: a file of garbage costs its size, reports a bounded
// number of lines, and still answers.
func TestDBHostileFile(t *testing.T) {
	ed := khSigner(t, ssh.KeyAlgoED25519).PublicKey()
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "garbage%d\n", i)
	}
	b.WriteString(khLine("h", ed) + "\n")
	db, err := Read(strings.NewReader(b.String()), "hostile")
	if err != nil {
		t.Fatal(err)
	}
	skipped, n := db.Skipped()
	if n != 5000 || len(skipped) != 100 || skipped[0].Line != 1 || skipped[99].Line != 100 || !errors.Is(skipped[0], ErrInvalidLine) {
		t.Fatalf("skipped %d, kept %d", n, len(skipped))
	}
	if !strings.HasPrefix(skipped[0].Error(), "hostile:1: ") {
		t.Fatalf("LineError %q", skipped[0])
	}
	if res, err := db.Lookup("h", 22, ed); res.State != OK || err != nil || res.Entry.Line != 5001 || res.Entry.File != "hostile" {
		t.Fatalf("lookup: %+v, %v", res, err)
	}
	if _, err := Read(io.LimitReader(zeros{}, MaxFileSize+1), "big"); !errors.Is(err, ErrFile) {
		t.Fatalf("Read of more than MaxFileSize: %v", err)
	}
}

func TestDBAll(t *testing.T) {
	ed := khSigner(t, ssh.KeyAlgoED25519).PublicKey()
	db, err := Read(strings.NewReader("# c\n"+khLine("a", ed)+"\nbad\n\n"+khLine("b", ed)+" note\r\n"), "kh")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for e, err := range db.All() {
		var le *LineError
		if err != nil && errors.As(err, &le) {
			got = append(got, fmt.Sprintf("%d:error", le.Line))
			continue
		}
		got = append(got, fmt.Sprintf("%d:%s:%s", e.Line, e.Hosts[0], e.Comment))
	}
	if want := []string{"2:a:", "3:error", "5:b:note"}; !slices.Equal(got, want) {
		t.Fatalf("All = %v, want %v", got, want)
	}
	for range db.All() {
		break // stopping early must not panic
	}
}

func TestKeyErrorMessage(t *testing.T) {
	key := khSigner(t, ssh.KeyAlgoED25519).PublicKey()
	e := &KeyError{Host: "[h]:2222", State: Changed, Key: key, Entry: &Entry{File: "kh", Line: 3}, Err: ErrKeyChanged}
	want := "knownhosts: host key for [h]:2222 (" + ssh.FingerprintSHA256(key) + ") refused: changed (kh:3): knownhosts: host key changed"
	if e.Error() != want || !errors.Is(e, ErrKeyChanged) {
		t.Fatalf("%q", e.Error())
	}
}

// zeros reads as an endless run of NUL bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
