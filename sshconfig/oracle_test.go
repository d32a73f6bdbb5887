package sshconfig

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sshBin is the OpenSSH client `ssh -G` runs from: the oracle.
const sshBin = "/usr/bin/ssh"

// requireSSH skips (fails under LIBSSH_INTEROP=1) without the oracle.
func requireSSH(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(sshBin); err != nil {
		if os.Getenv("LIBSSH_INTEROP") == "1" {
			t.Fatalf("LIBSSH_INTEROP=1 but %s is missing: %v", sshBin, err)
		}
		t.Skipf("%s not installed; the ssh -G differential test needs OpenSSH (set LIBSSH_INTEROP=1 to require it)", sshBin)
	}
}

// sshG runs `ssh -G -F file alias`.
func sshG(file, alias string) (string, error) {
	cmd := exec.Command(sshBin, "-G", "-F", file, alias)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", &exec.ExitError{ProcessState: cmd.ProcessState, Stderr: errb.Bytes()}
	}
	return out.String(), nil
}

// corpusCase is one config of testdata/config with the aliases to resolve.
type corpusCase struct {
	name      string
	path      string // the copy with @DIR@ replaced
	aliases   []string
	wantError bool
}

// loadCorpus copies testdata/config into a private directory (the files
// must not be writable by others, and Includes need absolute paths) and
// reads each file's "# aliases:" and "# expect: error" headers.
func loadCorpus(t *testing.T) []corpusCase {
	t.Helper()
	dir := t.TempDir()
	var cases []corpusCase
	err := filepath.WalkDir("testdata/config", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel("testdata/config", path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		data = bytes.ReplaceAll(data, []byte("@DIR@"), []byte(dir))
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			return err
		}
		if filepath.Dir(rel) != "." || !strings.HasSuffix(rel, ".conf") {
			return nil
		}
		c := corpusCase{name: rel, path: dst}
		for _, l := range strings.Split(string(data), "\n") {
			if a, ok := strings.CutPrefix(l, "# aliases:"); ok {
				c.aliases = strings.Fields(a)
			}
			if strings.TrimSpace(l) == "# expect: error" {
				c.wantError = true
			}
		}
		if len(c.aliases) == 0 {
			t.Fatalf("%s has no # aliases: line", rel)
		}
		cases = append(cases, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestConfigMatchesOpenSSH is the differential test: every alias of every
// corpus config is resolved by Resolve and by `ssh -G`, and the whole of
// Config.String() must equal ssh -G's output, line by line. Nothing is
// normalised: the local user, home directory and host name are the real
// ones on both sides (Input left empty), which is what makes %u, %d, %l
// and %C agree. Configs marked "# expect: error" must fail on both sides.
func TestConfigMatchesOpenSSH(t *testing.T) {
	requireSSH(t)
	corpus := loadCorpus(t)
	if len(corpus) < 40 {
		t.Fatalf("corpus has %d configs, want at least 40", len(corpus))
	}
	aliases, lines, mismatches := 0, 0, 0
	for _, c := range corpus {
		t.Run(c.name, func(t *testing.T) {
			for _, alias := range c.aliases {
				aliases++
				want, gerr := sshG(c.path, alias)
				cfg, perr := Resolve(context.Background(), alias, Input{ConfigFile: c.path})
				if c.wantError {
					if gerr == nil || perr == nil {
						t.Errorf("%s: ssh -G error %v, ours %v; both should fail", alias, gerr, perr)
						mismatches++
					}
					continue
				}
				if gerr != nil {
					t.Fatalf("%s: ssh -G failed: %v: %s", alias, gerr, gerr.(*exec.ExitError).Stderr)
				}
				if perr != nil {
					t.Errorf("%s: Resolve: %v", alias, perr)
					mismatches++
					continue
				}
				got := strings.Split(strings.TrimSuffix(cfg.String(), "\n"), "\n")
				exp := strings.Split(strings.TrimSuffix(want, "\n"), "\n")
				lines += len(exp)
				for i := 0; i < max(len(got), len(exp)); i++ {
					g, w := "", ""
					if i < len(got) {
						g = got[i]
					}
					if i < len(exp) {
						w = exp[i]
					}
					if g != w {
						mismatches++
						t.Errorf("%s line %d: ours %q, ssh -G %q", alias, i+1, g, w)
					}
				}
			}
		})
	}
	t.Logf("diffed %d configs, %d aliases, %d ssh -G lines compared, %d mismatches",
		len(corpus), aliases, lines, mismatches)
}

// TestInputMatchesOpenSSHCommandLine: Input.User, Port and Options resolve
// as ssh's -l, -p and -o do, compared in full with `ssh -G`.
func TestInputMatchesOpenSSHCommandLine(t *testing.T) {
	requireSSH(t)
	path := filepath.Join(t.TempDir(), "config")
	config := "Host h\n  User cfguser\n  Port 2200\n  Compression yes\n  IdentityFile ~/.ssh/cfg\n" +
		"Match user cli\n  ServerAliveInterval 9\nHost *\n  ProxyCommand nc %h %p\n"
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		in   Input
	}{
		{[]string{"-l", "cli", "-p", "2022"}, Input{User: "cli", Port: 2022}},
		{[]string{"-o", "Compression=no", "-o", "Compression yes", "-o", "IdentityFile ~/.ssh/opt"},
			Input{Options: []string{"Compression=no", "Compression yes", "IdentityFile ~/.ssh/opt"}}},
		{[]string{"-o", "ProxyJump j1", "-o", "User cli"}, Input{Options: []string{"ProxyJump j1", "User cli"}}},
		{[]string{"-o", "ProxyCommand none", "-o", "StrictHostKeyChecking accept-new"}, Input{Options: []string{"ProxyCommand none", "StrictHostKeyChecking accept-new"}}},
	} {
		cmd := exec.Command(sshBin, append(append([]string{"-G", "-F", path}, tc.args...), "h")...)
		want, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		tc.in.ConfigFile = path
		cfg, err := Resolve(context.Background(), "h", tc.in)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := cfg.String(); got != string(want) {
			g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
			for i := range min(len(g), len(w)) {
				if g[i] != w[i] {
					t.Errorf("%v line %d: ours %q, ssh -G %q", tc.args, i+1, g[i], w[i])
				}
			}
			if len(g) != len(w) {
				t.Errorf("%v: %d lines, ssh -G %d", tc.args, len(g), len(w))
			}
		}
	}
}
