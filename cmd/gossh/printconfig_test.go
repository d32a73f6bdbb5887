//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sshBin is OpenSSH's client, the oracle for -G.
const sshBin = "/usr/bin/ssh"

func requireSSH(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(sshBin); err != nil {
		if os.Getenv("LIBSSH_INTEROP") == "1" {
			t.Fatalf("LIBSSH_INTEROP=1 but %s is missing: %v", sshBin, err)
		}
		t.Skipf("%s not installed; the -G differential test needs OpenSSH (LIBSSH_INTEROP=1 requires it)", sshBin)
	}
}

// gCommandLines are the command lines -G is compared on, each with every
// config of the corpus. They cover every option that changes ssh -G's
// output, the destination forms, and the precedence of flags over -o.
var gCommandLines = [][]string{
	{},
	{"-p", "2222"},
	{"-p2222", "-oPort=1"},
	{"-o", "Port=1", "-p", "2"},
	{"-l", "bob"},
	{"-o", "User=carol", "-l", "dave"},
	{"-4", "-A", "-C", "-g", "-k", "-x"},
	{"-6", "-a"},
	{"-v"}, {"-vv"}, {"-vvv"}, {"-q"}, {"-v", "-q"}, {"-q", "-v"},
	{"-T"}, {"-t"}, {"-tt"}, {"-N"}, {"-n"}, {"-f", "-N"},
	{"-W", "example.com:22"},
	{"-L", "8080:h:80", "-L", "127.0.0.1:8081:[::1]:81", "-R", "9090:h:90", "-R", "7070", "-D", "1080", "-D", "127.0.0.1:1081"},
	{"-L", "/tmp/l.sock:/tmp/r.sock"},
	{"-J", "u@j1:2200,j2"},
	{"-e", "^A"}, {"-e", "none"}, {"-e", "%"},
	{"-b", "127.0.0.1"},
	{"-c", "aes128-ctr", "-m", "hmac-sha2-256"},
	{"-S", "/tmp/%h-%p.sock"},
	{"-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile=/tmp/kh", "-o", "HashKnownHosts=yes"},
	{"-o", "BatchMode=yes", "-o", "NumberOfPasswordPrompts=1", "-o", "PreferredAuthentications=password,publickey"},
	{"-o", "LogLevel=QUIET"}, {"-o", "RequestTTY=force"}, {"-o", "ControlMaster=auto", "-o", "ControlPath=~/.ssh/cm-%C"},
	{"-o", "ProxyCommand=nc %h %p"},
	{"-o", "SendEnv=LANG LC_*", "-o", "SetEnv=FOO=bar"},
}

// fullMatrix names the corpus configs tried with every command line (the
// others get the first three): the basics, Match user/host/final,
// tokens and forwards, where command-line values change the resolution.
var fullMatrix = map[string]bool{
	"00-empty.conf": true, "01-basic.conf": true, "08-tokens-knownhosts.conf": true,
	"12-match-host.conf": true, "14-match-user.conf": true, "19-match-final.conf": true,
}

// gDestinations are the destination forms tried with the plain command line.
var gDestinations = []string{"alice@web", "ssh://bob@web:2200", "ssh://web", "web:2222", "Web.Example.COM"}

// TestPrintConfigMatchesOpenSSH runs `gossh -G` and `ssh -G` with the same
// arguments over the sshconfig corpus and requires the same output and
// exit status.
func TestPrintConfigMatchesOpenSSH(t *testing.T) {
	requireSSH(t)
	corpus := loadConfigCorpus(t)
	compared := 0
	check := func(t *testing.T, args []string) {
		t.Helper()
		want := run(t, exec.Command(sshBin, args...), "")
		got := printConfig(args)
		if got.code != want.code {
			t.Errorf("%q: exit %d, ssh -G exit %d (ssh stderr %q, ours %q)", args, got.code, want.code, want.stderr, got.stderr)
			return
		}
		if got.stdout != want.stdout {
			gl, wl := strings.Split(got.stdout, "\n"), strings.Split(want.stdout, "\n")
			for i := 0; i < len(gl) || i < len(wl); i++ {
				var g, w string
				if i < len(gl) {
					g = gl[i]
				}
				if i < len(wl) {
					w = wl[i]
				}
				if g != w {
					t.Errorf("%q line %d: ours %q, ssh -G %q", args, i+1, g, w)
					return
				}
			}
		}
		compared++
	}
	for _, cfg := range corpus {
		name := filepath.Base(cfg.path)
		t.Run(name, func(t *testing.T) {
			lines := gCommandLines[:3]
			if fullMatrix[name] {
				lines = gCommandLines
			}
			for _, alias := range cfg.aliases {
				for _, cl := range lines {
					args := append(append([]string{"-G", "-F", cfg.path}, cl...), alias)
					check(t, args)
				}
			}
		})
	}
	t.Run("destinations", func(t *testing.T) {
		for _, d := range gDestinations {
			check(t, []string{"-G", "-F", "/dev/null", d})
			check(t, []string{"-G", "-F", "/dev/null", "-l", "first", d})
			check(t, []string{"-G", "-F", "/dev/null", d, "-p", "2"})
		}
	})
	t.Logf("%d command lines compared with ssh -G", compared)
}

// printConfig runs gossh -G in-process: it reads files only, and a
// process per command line is slow under -race.
func printConfig(args []string) result {
	var out, errb bytes.Buffer
	code := gosshMain(args, nil, &out, &errb)
	return result{out.String(), errb.String(), code}
}

type configCase struct {
	path    string
	aliases []string
}

// loadConfigCorpus copies sshconfig's corpus (those that must resolve,
// and do not run commands) into a private directory, as its own test does.
func loadConfigCorpus(t *testing.T) []configCase {
	t.Helper()
	src := filepath.Join("..", "..", "sshconfig", "testdata", "config")
	dir := t.TempDir()
	var cases []configCase
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
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
		c := configCase{path: dst}
		for _, l := range strings.Split(string(data), "\n") {
			if a, ok := strings.CutPrefix(l, "# aliases:"); ok {
				c.aliases = strings.Fields(a)
			}
		}
		if len(c.aliases) > 0 {
			cases = append(cases, c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cases
}
