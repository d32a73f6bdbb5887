package ssh

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sshBin is the OpenSSH client `ssh -G` runs from: the oracle for config
// resolution.
const sshBin = "/usr/bin/ssh"

// oracleKeywords are the `ssh -G` keywords this library resolves and the
// differential test compares.
var oracleKeywords = []string{
	"user", "hostname", "port", "addressfamily", "batchmode", "checkhostip", "hashknownhosts",
	"identitiesonly", "kbdinteractiveauthentication", "passwordauthentication",
	"pubkeyauthentication", "requesttty", "stricthostkeychecking", "numberofpasswordprompts",
	"serveralivecountmax", "serveraliveinterval", "ciphers", "hostkeyalgorithms", "kexalgorithms",
	"loglevel", "macs", "pubkeyacceptedalgorithms", "dynamicforward", "localforward",
	"remoteforward", "identityfile", "certificatefile", "bindaddress", "hostkeyalias",
	"identityagent", "preferredauthentications", "proxycommand", "globalknownhostsfile",
	"userknownhostsfile", "sendenv", "setenv", "forwardagent", "connecttimeout", "rekeylimit",
	"proxyjump",
}

// requireSSH returns the ssh binary, or skips (fails under
// LIBSSH_INTEROP=1) when it is missing.
func requireSSH(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(sshBin); err != nil {
		if os.Getenv("LIBSSH_INTEROP") == "1" {
			t.Fatalf("LIBSSH_INTEROP=1 but %s is missing: %v", sshBin, err)
		}
		t.Skipf("%s not installed; the ssh -G differential test needs OpenSSH (set LIBSSH_INTEROP=1 to require it)", sshBin)
	}
	return sshBin
}

// sshG runs `ssh -G -F file alias` and returns its keyword lines.
func sshG(t *testing.T, file, alias string) (map[string][]string, error) {
	t.Helper()
	cmd := exec.Command(sshBin, "-G", "-F", file, alias)
	cmd.Stdin = nil
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, &exec.ExitError{ProcessState: cmd.ProcessState, Stderr: errb.Bytes()}
	}
	return gLines(out.String()), nil
}

func gLines(s string) map[string][]string {
	m := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		k, v, _ := strings.Cut(l, " ")
		m[k] = append(m[k], v)
	}
	return m
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
// corpus config is resolved by this library and by `ssh -G`, and each
// keyword of oracleKeywords must agree (after the normalisation described
// in normaliseG). Configs marked "# expect: error" must fail on both sides.
func TestConfigMatchesOpenSSH(t *testing.T) {
	requireSSH(t)
	// OpenSSH expands ~ and %d from the passwd entry; this library from
	// $HOME. Make them the same.
	if u, err := user.Current(); err == nil {
		t.Setenv("HOME", u.HomeDir)
	}
	defaults, err := sshG(t, "/dev/null", "defaults.invalid")
	if err != nil {
		t.Fatalf("ssh -G on an empty config: %v", err)
	}
	corpus := loadCorpus(t)
	if len(corpus) < 40 {
		t.Fatalf("corpus has %d configs, want at least 40", len(corpus))
	}
	aliases, compared := 0, 0
	for _, c := range corpus {
		t.Run(c.name, func(t *testing.T) {
			for _, alias := range c.aliases {
				aliases++
				want, gerr := sshG(t, c.path, alias)
				s := NewSession()
				if err := s.SetOption(Hostname(alias)); err != nil {
					t.Fatal(err)
				}
				perr := s.OptionsParseConfig(c.path)
				if c.wantError {
					if gerr == nil || perr == nil {
						t.Errorf("%s: ssh -G error %v, ours %v; both should fail", alias, gerr, perr)
					}
					continue
				}
				if gerr != nil {
					t.Fatalf("%s: ssh -G failed: %v: %s", alias, gerr, gerr.(*exec.ExitError).Stderr)
				}
				if perr != nil {
					t.Errorf("%s: OptionsParseConfig: %v", alias, perr)
					continue
				}
				got := gLines(s.Options().String())
				normaliseG(want, defaults, got, alias)
				for _, kw := range oracleKeywords {
					compared++
					if !slices.Equal(got[kw], want[kw]) {
						t.Errorf("%s %s: ours %q, ssh -G %q", alias, kw, got[kw], want[kw])
					}
				}
			}
		})
	}
	t.Logf("diffed %d configs, %d aliases, %d keywords each (%d comparisons) against ssh -G",
		len(corpus), aliases, len(oracleKeywords), compared)
}

// normaliseG turns `ssh -G` output into what this library prints for the
// same resolution, where the two differ by design rather than by
// resolution:
//   - defaults: the algorithm lists, identity files and log level that no
//     config line set are OpenSSH's defaults there and this library's here;
//   - ssh -G prints IdentityFile, CertificateFile and GlobalKnownHostsFile
//     before expanding ~ and tokens (ssh expands them when it loads the
//     files); this library stores them expanded. The tokens are expanded
//     here from the values ssh -G itself printed;
//   - ssh -G 9.2 lists a Unix-socket LocalForward under dynamicforward too,
//     and prints a dynamic RemoteForward's missing destination as
//     "[socks]:0";
//   - LogLevel is resolved onto libssh's five verbosities.
func normaliseG(g, defaults, ours map[string][]string, orig string) {
	for _, kw := range []string{"ciphers", "macs", "kexalgorithms", "hostkeyalgorithms", "pubkeyacceptedalgorithms"} {
		if slices.Equal(g[kw], defaults[kw]) {
			g[kw] = ours[kw]
		}
	}
	if slices.Equal(g["identityfile"], defaults["identityfile"]) {
		g["identityfile"] = nil
	}
	if lv, ok := logLevelNames[strings.ToLower(first(g["loglevel"]))]; ok {
		name := map[LogVerbosity]string{LogNoLogging: "QUIET", LogWarning: "INFO", LogProtocol: "VERBOSE", LogPacket: "DEBUG", LogFunctions: "DEBUG3"}[lv]
		if first(g["loglevel"]) == "INFO" && first(ours["loglevel"]) == "QUIET" {
			name = "QUIET" // the defaults: OpenSSH logs INFO, libssh nothing
		}
		g["loglevel"] = []string{name}
	}
	home := os.Getenv("HOME")
	host, port, ruser := first(g["hostname"]), first(g["port"]), first(g["user"])
	local, _ := os.Hostname()
	sum := sha1.Sum([]byte(local + host + port + ruser))
	alias := first(g["hostkeyalias"])
	if alias == "" {
		alias = orig
	}
	short, _, _ := strings.Cut(local, ".")
	lu, _ := user.Current()
	tokens := strings.NewReplacer("%%", "%", "%h", host, "%p", port, "%r", ruser, "%u", lu.Username,
		"%d", home, "%i", strconv.Itoa(os.Getuid()), "%C", hex.EncodeToString(sum[:]), "%L", short,
		"%l", local, "%n", orig, "%k", alias)
	expand := func(p string) string {
		if p == "~" || strings.HasPrefix(p, "~/") {
			p = home + p[1:]
		}
		p = tokens.Replace(p)
		for {
			i := strings.Index(p, "${")
			j := strings.IndexByte(p[max(i, 0):], '}')
			if i < 0 || j < 0 {
				return p
			}
			p = p[:i] + os.Getenv(p[i+2:i+j]) + p[i+j+1:]
		}
	}
	for _, kw := range []string{"identityfile", "certificatefile"} {
		for i, p := range g[kw] {
			g[kw][i] = expand(p)
		}
	}
	if v := g["globalknownhostsfile"]; len(v) == 1 {
		fields := strings.Fields(v[0])
		for i, f := range fields {
			if strings.HasPrefix(f, "~/") {
				fields[i] = home + f[1:]
			}
		}
		g["globalknownhostsfile"] = []string{strings.Join(fields, " ")}
	}
	// PubkeyAuthentication unbound and host-bound are "yes" here: the
	// publickey-hostbound extension is not implemented.
	if v := first(g["pubkeyauthentication"]); v == "unbound" || v == "host-bound" {
		g["pubkeyauthentication"] = []string{"true"}
	}
	g["dynamicforward"] = slices.DeleteFunc(g["dynamicforward"], func(s string) bool { return strings.Contains(s, "/") })
	for i, f := range g["remoteforward"] {
		g["remoteforward"][i] = strings.TrimSuffix(f, " [socks]:0")
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
