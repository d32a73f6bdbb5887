package knownhosts

import (
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func TestStates(t *testing.T) {
	ed := khSigner(t, ssh.KeyAlgoED25519)
	ed2 := khSigner(t, ssh.KeyAlgoED25519)
	ec := khSigner(t, ssh.KeyAlgoECDSA256)
	ec384 := khSigner(t, ssh.KeyAlgoECDSA384)
	edPub, ed2Pub, ecPub := ed.PublicKey(), ed2.PublicKey(), ec.PublicKey()
	dsaPub := khDSAKey(t)
	const host = "server.example"

	cases := []struct {
		name    string
		user    []string // lines of the user file; nil = no file
		global  []string // lines of the global file; nil = no file
		port    int
		alias   string
		key     ssh.PublicKey
		want    State
		file    string // "user" or "global" of the deciding entry; "" = none
		line    int
		wantErr error
	}{
		{name: "no file", key: edPub, want: NotFound},
		{name: "empty file", user: []string{}, key: edPub, want: Unknown},
		{name: "other host", user: []string{khLine("other.example", edPub)}, key: edPub, want: Unknown},
		{name: "only global, other host", global: []string{khLine("other.example", edPub)}, key: edPub, want: Unknown},
		{name: "ok", user: []string{khLine(host, edPub)}, key: edPub, want: OK, file: "user", line: 1},
		{name: "ok in global", global: []string{khLine(host, edPub)}, key: edPub, want: OK, file: "global", line: 1},
		{name: "changed", user: []string{khLine(host, ed2Pub)}, key: edPub, want: Changed, file: "user", line: 1},
		{name: "other", user: []string{khLine(host, ecPub)}, key: edPub, want: Other, file: "user", line: 1},
		{name: "ecdsa curves are types", user: []string{khLine(host, ec384.PublicKey())}, key: ecPub, want: Other, file: "user", line: 1},
		{name: "changed wins over other", user: []string{khLine(host, ecPub), khLine(host, ed2Pub)}, key: edPub, want: Changed, file: "user", line: 2},
		{name: "ok wins over changed", user: []string{khLine(host, ed2Pub), "# c", khLine(host, edPub)}, key: edPub, want: OK, file: "user", line: 3},
		{name: "ok in global wins over changed in user", user: []string{khLine(host, ed2Pub)}, global: []string{khLine(host, edPub)}, key: edPub, want: OK, file: "global", line: 1},
		{name: "duplicates", user: []string{khLine(host, edPub), khLine(host, edPub), khLine(host, edPub)}, key: edPub, want: OK, file: "user", line: 1},
		{name: "port", port: 2222, user: []string{khLine(host, ed2Pub), khLine("["+host+"]:2222", edPub)}, key: edPub, want: OK, file: "user", line: 2},
		{name: "bare entry is for port 22 only", port: 2222, user: []string{khLine(host, edPub)}, key: edPub, want: Unknown},
		{name: "wildcard", user: []string{khLine("*.example", edPub)}, key: edPub, want: OK, file: "user", line: 1},
		{name: "negation vetoes", user: []string{khLine("*.example,!server.*", edPub)}, key: edPub, want: Unknown},
		{name: "negation vetoes a changed key too", user: []string{khLine("*.example,!server.*", ed2Pub)}, key: edPub, want: Unknown},
		{name: "hashed", user: []string{HashHostName("other") + " x", khLine(HashHostName(host), edPub)}, key: edPub, want: OK, file: "user", line: 2},
		{name: "hashed with port", port: 2200, user: []string{khLine(HashHostName("["+host+"]:2200"), edPub)}, key: edPub, want: OK, file: "user", line: 1},
		{name: "hashed changed", user: []string{khLine(HashHostName(host), ed2Pub)}, key: edPub, want: Changed, file: "user", line: 1},
		{name: "alias", alias: "alias.example", port: 2222, user: []string{khLine("["+host+"]:2222", ed2Pub), khLine("alias.example", edPub)}, key: edPub, want: OK, file: "user", line: 2},
		{name: "alias ignores the host's entry", alias: "alias.example", user: []string{khLine(host, edPub)}, key: edPub, want: Unknown},
		{name: "bad line next to a good one", user: []string{host + " ssh-ed25519 AAAA-garbage", khLine(host, edPub)}, key: edPub, want: OK, file: "user", line: 2},
		{name: "bad line never matches", user: []string{host + " ssh-ed25519 AAAA-garbage"}, key: edPub, want: Unknown},
		{name: "type mismatch line skipped", user: []string{host + " ssh-ed25519 " + strings.Fields(khLine(host, ecPub))[2]}, key: ecPub, want: Unknown},
		{name: "unknown marker skipped", user: []string{"@trusted " + khLine(host, edPub)}, key: edPub, want: Unknown},
		{name: "dsa line", user: []string{khLine(host, dsaPub)}, key: edPub, want: Other, file: "user", line: 1},
		{name: "dsa and ok", user: []string{khLine(host, dsaPub), khLine(host, edPub)}, key: edPub, want: OK, file: "user", line: 2},
		{name: "revoked", user: []string{khLine(host, edPub), "@revoked * " + khLine("", edPub)[1:]}, key: edPub, want: Changed, file: "user", line: 2, wantErr: ErrRevoked},
		{name: "revoked in global", user: []string{khLine(host, edPub)}, global: []string{"@revoked " + khLine(host, edPub)}, key: edPub, want: Changed, file: "global", line: 1, wantErr: ErrRevoked},
		{name: "revoked for another host only", user: []string{khLine(host, edPub), "@revoked " + khLine("other", edPub)}, key: edPub, want: OK, file: "user", line: 1},
		{name: "cert-authority is not a plain key", user: []string{"@cert-authority " + khLine(host, edPub)}, key: edPub, want: Unknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			port := c.port
			if port == 0 {
				port = 22
			}
			if c.user != nil {
				writeKH(t, dir, "user", c.user...)
			}
			if c.global != nil {
				writeKH(t, dir, "global", c.global...)
			}
			// The user file, then the global one, as OpenSSH reads them.
			db := load(t, filepath.Join(dir, "user"), filepath.Join(dir, "global"))
			q := Query{Name: HostName(host, port), Principal: host}
			if c.alias != "" {
				q = Query{Name: c.alias} // HostKeyAlias: as it is, no port
			}
			res, err := db.Check(q, c.key)
			if res.State != c.want || !errors.Is(err, c.wantErr) || (err != nil) != (c.wantErr != nil) {
				t.Fatalf("state %v, err %v; want %v, %v", res.State, err, c.want, c.wantErr)
			}
			var file string
			var line int
			if res.Entry != nil {
				file, line = filepath.Base(res.Entry.File), res.Entry.Line
			}
			if file != c.file || line != c.line {
				t.Fatalf("entry %s:%d, want %s:%d", file, line, c.file, c.line)
			}
			if strings.Contains(c.name, "bad line") || strings.Contains(c.name, "skipped") {
				if skipped, n := db.Skipped(); len(res.Skipped) == 0 && (n == 0 || len(skipped) != n) {
					t.Fatal("malformed line not reported")
				}
			}
		})
	}
}

func TestKnownHostsCertAuthority(t *testing.T) {
	ca := khSigner(t, ssh.KeyAlgoED25519)
	otherCA := khSigner(t, ssh.KeyAlgoED25519)
	hostKey := khSigner(t, ssh.KeyAlgoECDSA256)
	now := time.Now()
	valid := func(principals ...string) *ssh.Certificate {
		c, _ := khHostCert(t, ca, hostKey, ssh.HostCert, principals, now.Add(-time.Hour), now.Add(time.Hour))
		return c
	}
	caLine := "@cert-authority *.example " + khLine("", ca.PublicKey())[1:]
	expired, _ := khHostCert(t, ca, hostKey, ssh.HostCert, []string{"h.example"}, now.Add(-2*time.Hour), now.Add(-time.Hour))
	future, _ := khHostCert(t, ca, hostKey, ssh.HostCert, []string{"h.example"}, now.Add(time.Hour), now.Add(2*time.Hour))
	userCert, _ := khHostCert(t, ca, hostKey, ssh.UserCert, []string{"h.example"}, now.Add(-time.Hour), now.Add(time.Hour))
	foreign, _ := khHostCert(t, otherCA, hostKey, ssh.HostCert, []string{"h.example"}, now.Add(-time.Hour), now.Add(time.Hour))
	forever := valid("h.example")
	forever.ValidBefore = ssh.CertTimeInfinity
	if err := forever.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	withOptions := valid("h.example")
	withOptions.CriticalOptions = map[string]string{"force-command": "x"}
	if err := withOptions.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	tampered := *valid("h.example")
	tampered.ValidPrincipals = []string{"h.example", "evil.example"}

	cases := []struct {
		name    string
		lines   []string
		cert    *ssh.Certificate
		want    State
		wantErr error
	}{
		{"valid", []string{caLine}, valid("h.example"), OK, nil},
		{"principal case", []string{caLine}, valid("H.Example"), OK, nil},
		{"no expiry", []string{caLine}, forever, OK, nil},
		{"wrong principal", []string{caLine}, valid("other.example"), Changed, ErrCertificateInvalid},
		{"no principals", []string{caLine}, valid(), Changed, ErrCertificateInvalid},
		{"expired", []string{caLine}, expired, Changed, ErrCertificateInvalid},
		{"not yet valid", []string{caLine}, future, Changed, ErrCertificateInvalid},
		{"user certificate", []string{caLine}, userCert, Changed, ErrCertificateInvalid},
		{"critical options", []string{caLine}, withOptions, Changed, ErrCertificateInvalid},
		{"bad signature", []string{caLine}, &tampered, Changed, ErrCertificateInvalid},
		{"CA for other hosts", []string{"@cert-authority *.other " + khLine("", ca.PublicKey())[1:]}, valid("h.example"), Unknown, nil},
		{"unknown CA falls back to the plain key", []string{caLine, khLine("h.example", hostKey.PublicKey())}, foreign, OK, nil},
		{"unknown CA, plain key changed", []string{caLine, khLine("h.example", khSigner(t, ssh.KeyAlgoECDSA256).PublicKey())}, foreign, Changed, nil},
		{"revoked CA", []string{caLine, "@revoked * " + khLine("", ca.PublicKey())[1:]}, valid("h.example"), Changed, ErrRevoked},
		{"revoked certified key", []string{caLine, "@revoked * " + khLine("", hostKey.PublicKey())[1:]}, valid("h.example"), Changed, ErrRevoked},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeKH(t, t.TempDir(), "kh", c.lines...)
			res, err := load(t, path).Lookup("h.example", 22, c.cert)
			if res.State != c.want || !errors.Is(err, c.wantErr) || (err != nil) != (c.wantErr != nil) {
				t.Fatalf("state %v, err %v; want %v, %v", res.State, err, c.want, c.wantErr)
			}
		})
	}
}

func TestKnownHostsBadFiles(t *testing.T) {
	ed := khSigner(t, ssh.KeyAlgoED25519).PublicKey()
	dir := t.TempDir()
	good := writeKH(t, dir, "good", khLine("h", ed))

	sparse := filepath.Join(dir, "sparse")
	writeFile(t, sparse, []byte(khLine("h", ed)+"\n"))
	if err := os.Truncate(sparse, 2<<30); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(good, "known_hosts") // a path through a regular file

	type badFile struct{ name, path string }
	bad := []badFile{
		{"directory", dir},
		{"2 GB sparse file", sparse},
		{"path through a file", notDir},
	}
	if runtime.GOOS != "windows" {
		bad = append(bad, badFile{"/dev/zero", "/dev/zero"})
	}
	if mkfifo, err := exec.LookPath("mkfifo"); err == nil {
		fifo := filepath.Join(dir, "fifo")
		if out, err := exec.Command(mkfifo, fifo).CombinedOutput(); err != nil {
			t.Fatalf("mkfifo: %v %s", err, out)
		}
		bad = append(bad, badFile{"FIFO", fifo})
	}
	if os.Geteuid() > 0 {
		unreadable := writeKH(t, dir, "unreadable", khLine("h", ed))
		if err := os.Chmod(unreadable, 0); err != nil {
			t.Fatal(err)
		}
		bad = append(bad, badFile{"unreadable", unreadable})
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			// In either position, an unusable file fails the lookup
			// even when another file holds the key.
			for _, files := range [][]string{{b.path, good}, {good, b.path}} {
				done := make(chan struct{})
				var (
					db  *DB
					err error
				)
				go func() {
					defer close(done)
					db, err = Load(files...)
				}()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("lookup hangs")
				}
				if !errors.Is(err, ErrFile) || db != nil {
					t.Fatalf("files %v: %v, %v; want an ErrFile error", files, db, err)
				}
			}
			// And the writer refuses them without blocking.
			if err := appendText(b.path, khLine("h", ed)+"\n"); !errors.Is(err, ErrFile) {
				t.Fatalf("append: %v", err)
			}
		})
	}

	// /dev/null is an existing, empty file: Unknown, and writes vanish.
	res, err := load(t, os.DevNull).Lookup("h", 22, ed)
	if err != nil || res.State != Unknown {
		t.Fatalf("/dev/null: %v, %v", res.State, err)
	}
	if err := appendText(os.DevNull, "h x\n"); err != nil {
		t.Fatalf("append to /dev/null: %v", err)
	}
}

func TestKnownHostsLongLines(t *testing.T) {
	ed := khSigner(t, ssh.KeyAlgoED25519).PublicKey()
	dir := t.TempDir()
	long := strings.Repeat("x", 70<<10) + " " + khLine("", ed)[1:]
	nearLimit := strings.Repeat("y", 60<<10) + "," + khLine("h", ed) // under 64 KiB: read
	path := writeKH(t, dir, "kh", long, khLine("h", ed))
	db := load(t, path)
	res, err := db.Lookup("h", 22, ed)
	if err != nil || res.State != OK || res.Entry.Line != 2 {
		t.Fatalf("state %v, err %v, entry %+v", res.State, err, res.Entry)
	}
	if w, n := db.Skipped(); n != 1 || len(w) != 1 || w[0].Line != 1 || !strings.Contains(w[0].Error(), "64 KiB") || !errors.Is(w[0], ErrInvalidLine) {
		t.Fatalf("skipped %q (%d)", w, n)
	}
	// A too-long line that names the host does not count at all.
	longMatch := strings.Repeat("h,", 40<<10) + khLine("h", ed)
	path = writeKH(t, dir, "kh2", longMatch)
	if res, err := load(t, path).Lookup("h", 22, ed); err != nil || res.State != Unknown {
		t.Fatalf("long matching line: %v, %v", res.State, err)
	}
	path = writeKH(t, dir, "kh3", nearLimit)
	if res, err := load(t, path).Lookup("h", 22, ed); err != nil || res.State != OK {
		t.Fatalf("line under the limit: %v, %v", res.State, err)
	}
	// No final newline, CRLF endings.
	path = filepath.Join(dir, "crlf")
	writeFile(t, path, []byte("# c\r\n\r\n"+khLine("h", ed)))
	if res, err := load(t, path).Lookup("h", 22, ed); err != nil || res.State != OK || res.Entry.Line != 3 {
		t.Fatalf("CRLF file: %v, %v", res.State, err)
	}
}
