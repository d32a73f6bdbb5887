package sshconfig

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// knownDifferences are keywords whose lines may not agree with ssh -G on
// purpose (see TestKeywordValuesMatchOpenSSH).
var knownDifferences = map[string]string{
	"usekeychain":                 "Apple's keyword: accepted here as macOS's ssh accepts it; Debian's 9.2 refuses it",
	"canonicalizepermittedcnames": "ssh resolves a direct host when it is set and exits when that fails; Resolve does no DNS",
	"forkafterauthentication":     "ssh refuses it without a command on its command line, an invocation check",
}

// TestKeywordValuesMatchOpenSSH is a grid differential test: every keyword
// with each of a list of values, alone in a file, resolved by Resolve and
// by ssh -G: both must fail, or both succeed with the same output. The
// full grid (about 9,400 runs of ssh, two minutes) runs with
// LIBSSH_CONFIG_GRID=all; otherwise one case in sixteen.
func TestKeywordValuesMatchOpenSSH(t *testing.T) {
	requireSSH(t)
	step := 16
	if os.Getenv("LIBSSH_CONFIG_GRID") == "all" {
		step = 1
	}
	var kws []string
	for k, v := range keywords {
		if v.typ == tHost || v.typ == tMatch || v.typ == tInclude || v.typ == tLater {
			continue
		}
		kws = append(kws, k)
	}
	sort.Strings(kws)
	vals := []string{"Yes", "TRUE", "0x10", "1w2d", "1.5", "100000000000", "1G 1h", "default", "none none", "a b c d e", "~", "~root/x", "%%", "%d/%u", "[::1]:22", "*", "!x", "*:*", "2147483647", "2147483648", "1m1", "s", "0177", "8", "inet", "ethernet", "subsystem", "md5", "SHA256", "local7", "VERBOSE", "host-bound", "accept-new", "autoask", "1:any", "any:2", "ef af11", "^X", "'\\'", "confirm", "ask 1h", "4G", "16", "15", "1k 1", "rsa-sha2-512", "ssh-ed25519,ssh-rsa", "-ssh-ed25519", "+sk-*", "aes128-ctr,aes128-ctr", "hmac-sha1-96", "sntrup761x25519-sha512", "gss-gex-sha1-", "u@h:22", "ssh://u@h:22", "a,b,c", "none,x", "1.2.3.4", "::1", "localhost:80", "/tmp/s /tmp/t", "8080 h:80", "*:8080 h:80", "[::1]:80 [::2]:81", "0 h:1", "LANG LC_*", "-LANG", "A=1 B=2", "A=1 A=2", "A", "x:y", "*.a:*.b", "none x", "any x", "host:*"}
	vals = append(vals, "yes", "no", "true", "ask", "0", "-1", "10", "1h", "none", "any", "x y", "%h", "~/a", "${HOME}", "a:b", "1.5G", "auto", "always", "x", "1:2", "077", "+x", "-x", "^aes128-ctr", "a,b", "yes 1h", "confirm 1m", "1 2 3", "\"q\"", "inet6", "DEBUG", "1.2.3.4:5 h:6", "3des-cbc")
	dir := t.TempDir()
	type gridCase struct{ kw, val string }
	var cases []gridCase
	i := 0
	for _, k := range kws {
		if _, skip := knownDifferences[k]; skip {
			continue
		}
		for _, v := range vals {
			if i++; i%step == 0 {
				cases = append(cases, gridCase{k, v})
			}
		}
	}
	var bad atomic.Int64
	var wg sync.WaitGroup
	work := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				k, v := cases[i].kw, cases[i].val
				path := filepath.Join(dir, strconv.Itoa(i))
				if err := os.WriteFile(path, []byte(k+" "+v+"\n"), 0o600); err != nil {
					t.Error(err)
					continue
				}
				out, gerr := exec.Command(sshBin, "-G", "-F", path, "h").Output()
				cfg, perr := Resolve(context.Background(), "h", Input{ConfigFile: path})
				if (gerr == nil) != (perr == nil) {
					bad.Add(1)
					t.Errorf("%s %s: ssh -G failed: %v; Resolve: %v", k, v, gerr != nil, perr)
					continue
				}
				if gerr == nil && cfg.String() != string(out) {
					bad.Add(1)
					g, w := strings.Split(cfg.String(), "\n"), strings.Split(string(out), "\n")
					for j := range min(len(g), len(w)) {
						if g[j] != w[j] {
							t.Errorf("%s %s: ours %q, ssh -G %q", k, v, g[j], w[j])
							break
						}
					}
					if len(g) != len(w) {
						t.Errorf("%s %s: %d lines, ssh -G %d", k, v, len(g), len(w))
					}
				}
			}
		}()
	}
	for i := range cases {
		work <- i
	}
	close(work)
	wg.Wait()
	n := len(cases)
	t.Logf("%d keyword/value cases compared with ssh -G (one in %d), %d differ", n, step, bad.Load())
}
