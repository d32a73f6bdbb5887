package sshconfig

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// write puts config in a private file and returns its path.
func write(t *testing.T, config string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testInput is an Input with a fixed local side and no real Match exec.
func testInput(path string) Input {
	return Input{ConfigFile: path, LocalUser: "alice", HomeDir: "/home/alice", UID: "1000", LocalHostname: "client.example",
		Exec: func(context.Context, string) (bool, error) { return false, errors.New("no exec in this test") }}
}

func resolve(t *testing.T, config, host string, mod ...func(*Input)) *Config {
	t.Helper()
	in := testInput(write(t, config))
	for _, m := range mod {
		m(&in)
	}
	c, err := Resolve(context.Background(), host, in)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return c
}

func TestInputWinsOverFiles(t *testing.T) {
	cfg := "Host h\n  Port 2200\n  User cfguser\n  Compression yes\n  HostName real.example\n"
	c := resolve(t, cfg, "h", func(in *Input) {
		in.User, in.Port = "apiuser", 2222
		in.Options = []string{"Compression=no", "Compression yes", "ConnectTimeout 7"}
	})
	if c.Port() != 2222 || c.User() != "apiuser" || c.Hostname() != "real.example" {
		t.Errorf("port %d user %q host %q", c.Port(), c.User(), c.Hostname())
	}
	if c.Bool("compression") || !c.IsSet("Compression") || c.Where("compression") != "command line" {
		t.Errorf("the first -o must win: %q %q", c.Get("compression"), c.Where("compression"))
	}
	if c.Duration("connecttimeout") != 7*time.Second {
		t.Errorf("connecttimeout %v", c.Duration("connecttimeout"))
	}
	if _, err := Resolve(context.Background(), "h", Input{ConfigFile: "none", Options: []string{"Host x"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Host as an option: %v", err)
	}
	// Match user sees Input.User.
	if c := resolve(t, "Match user apiuser\n  Port 2300\n", "h", func(in *Input) { in.User = "apiuser" }); c.Port() != 2300 {
		t.Errorf("Match user: port %d", c.Port())
	}
}

func TestMatchExecHook(t *testing.T) {
	var ran []string
	c := resolve(t, "Host h\n  User ru\n  Port 2\nMatch exec \"test %h:%p:%r:%u:%n:%l:%L:%d:%i\"\n  Compression yes\n", "H", func(in *Input) {
		in.Exec = func(ctx context.Context, cmd string) (bool, error) {
			if ctx == nil {
				t.Error("no ctx")
			}
			ran = append(ran, cmd)
			return true, nil
		}
	})
	want := "test H:22:alice:alice:H:client.example:client:/home/alice:1000"
	if !slices.Equal(ran, []string{want}) || !c.Bool("compression") {
		t.Fatalf("ran %q, compression %q", ran, c.Get("compression"))
	}
	// Host h does not match "H" (Host is case-sensitive), so user and port
	// were not set: %r is the local user; %h is the name as given until
	// the final pass lowercases it.
	if _, err := Resolve(context.Background(), "x;id", Input{ConfigFile: write(t, "Match exec \"true %h\"\n  Port 1\n"),
		Exec: func(context.Context, string) (bool, error) { t.Error("ran"); return true, nil }}); !errors.Is(err, ErrUnsafeName) {
		t.Fatalf("unsafe %%h: %v", err)
	}
	stop := errors.New("stop")
	if _, err := Resolve(context.Background(), "h", Input{ConfigFile: write(t, "Match exec true\n  Port 1\n"),
		Exec: func(context.Context, string) (bool, error) { return false, stop }}); !errors.Is(err, stop) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("exec error: %v", err)
	}
}

func TestMatchExecRealCommand(t *testing.T) {
	if isWindows {
		t.Skip("no /bin/sh")
	}
	in := Input{ConfigFile: write(t, "Match exec true\n  Port 3\nMatch exec false\n  User nobody-here\n")}
	c, err := Resolve(context.Background(), "h", in)
	if err != nil || c.Port() != 3 || c.User() == "nobody-here" {
		t.Fatalf("%v port %d user %q", err, c.Port(), c.User())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Resolve(ctx, "h", in); !errors.Is(err, context.Canceled) {
		t.Fatalf("ended ctx: %v", err)
	}
}

func TestLocalNetworkHook(t *testing.T) {
	cfg := "Match localnetwork 192.0.2.0/24\n  Port 2803\n"
	on := resolve(t, cfg, "h", func(in *Input) {
		in.LocalAddrs = func() ([]net.IP, error) { return []net.IP{net.ParseIP("192.0.2.7")}, nil }
	})
	off := resolve(t, cfg, "h", func(in *Input) {
		in.LocalAddrs = func() ([]net.IP, error) { return []net.IP{net.ParseIP("198.51.100.1")}, nil }
	})
	if on.Port() != 2803 || off.Port() != 22 {
		t.Fatalf("on %d off %d", on.Port(), off.Port())
	}
	for _, bad := range []string{"Match localnetwork 10.0.0.0/33\n", "Match localnetwork nonsense\n", "Match localnetwork 10.0.0.1/8\n"} {
		if _, err := Resolve(context.Background(), "h", testInput(write(t, bad+"  Port 1\n"))); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestErrorsHaveFileAndLine(t *testing.T) {
	path := write(t, "Port 1\nPort nope\n")
	_, err := Resolve(context.Background(), "h", testInput(path))
	var e *Error
	if !errors.As(err, &e) || e.File != path || e.Line != 2 || !errors.Is(err, ErrInvalid) {
		t.Fatalf("%#v", err)
	}
	if !strings.Contains(err.Error(), path+" line 2: bad port") {
		t.Errorf("message %q", err)
	}
	_, err = Resolve(context.Background(), "h", Input{ConfigFile: filepath.Join(t.TempDir(), "absent")})
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &e) || e.Line != 0 {
		t.Fatalf("missing -F file: %v", err)
	}
	if _, err := Resolve(context.Background(), "", Input{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no host: %v", err)
	}
	// Missing default files are fine.
	if _, err := Resolve(context.Background(), "h", Input{UserConfig: filepath.Join(t.TempDir(), "a"), SystemConfig: filepath.Join(t.TempDir(), "b")}); err != nil {
		t.Fatalf("missing default files: %v", err)
	}
}

func TestAccessors(t *testing.T) {
	t.Setenv("SSHCONFIG_TEST_DIR", "/env")
	c := resolve(t, "Host web\n  HostName Web.Example.COM\n  User deploy\n  Port 2222\n  IdentityFile ~/.ssh/id_%h\n"+
		"  IdentityFile ${SSHCONFIG_TEST_DIR}/k\n  CertificateFile %d/c\n  Ciphers +aes128-cbc\n  RekeyLimit 1M 1h\n"+
		"  LocalForward 8080 db:5432\n  DynamicForward 1080\n  RemoteForward 9000\n  UserKnownHostsFile ~/kh/%k none2\n"+
		"  ForwardAgent ~/agent.sock\n  ServerAliveCountMax 9\n", "web")
	if c.Host() != "web" || c.Hostname() != "web.example.com" || c.User() != "deploy" || c.Port() != 2222 {
		t.Fatalf("%q %q %q %d", c.Host(), c.Hostname(), c.User(), c.Port())
	}
	if !slices.Equal(c.IdentityFiles(), []string{"~/.ssh/id_%h", "${SSHCONFIG_TEST_DIR}/k"}) ||
		!slices.Equal(c.Get("identityfile"), c.IdentityFiles()) {
		t.Errorf("identity files %q / %q", c.IdentityFiles(), c.Get("identityfile"))
	}
	var paths []string
	for _, f := range c.IdentityFiles() {
		p, err := c.Tokens().ExpandPath(f)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if !slices.Equal(paths, []string{"/home/alice/.ssh/id_web.example.com", "/env/k"}) {
		t.Errorf("expanded %q", paths)
	}
	if a := c.Algorithms("ciphers"); a[len(a)-1] != "aes128-cbc" || c.AlgorithmSpec("Ciphers") != "+aes128-cbc" || c.AlgorithmSpec("macs") != "" {
		t.Errorf("ciphers %q spec %q", a, c.AlgorithmSpec("ciphers"))
	}
	if b, i := c.RekeyLimit(); b != 1<<20 || i != time.Hour {
		t.Errorf("rekey %d %v", b, i)
	}
	if l, d, r := c.LocalForwards(), c.DynamicForwards(), c.RemoteForwards(); len(l) != 1 || l[0].ConnectHost != "db" ||
		len(d) != 1 || d[0].ListenPort != 1080 || len(r) != 1 || r[0].ListenPort != 9000 {
		t.Errorf("forwards %v %v %v", l, d, r)
	}
	if kh := c.UserKnownHostsFiles(); !slices.Equal(kh, []string{"/home/alice/kh/web", "none2"}) {
		t.Errorf("known hosts %q", kh)
	}
	if on, sock := c.ForwardAgent(); !on || sock != "/home/alice/agent.sock" {
		t.Errorf("forward agent %v %q", on, sock)
	}
	if c.Int("serveralivecountmax") != 9 || c.Int("numberofpasswordprompts") != 3 || c.Int("bindaddress") != -1 {
		t.Errorf("ints")
	}
	if c.Get("bindaddress") != nil || c.IsSet("port") != true || c.IsSet("compression") {
		t.Errorf("Get/IsSet")
	}
	if !slices.Equal(c.GlobalKnownHostsFiles(), []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}) {
		t.Errorf("global %q", c.GlobalKnownHostsFiles())
	}
}

// TestDefaults: with no file, every keyword `ssh -G` prints is there, with
// OpenSSH's default identity list.
func TestDefaults(t *testing.T) {
	c, err := Resolve(context.Background(), "h", Input{ConfigFile: "none", LocalUser: "alice", HomeDir: "/home/alice"})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(c.String()), "\n")
	if len(lines) != 85 {
		t.Errorf("%d lines, want the 85 of ssh -G -F /dev/null", len(lines))
	}
	for _, want := range []string{"host h", "user alice", "hostname h", "port 22", "compression no",
		"identityfile ~/.ssh/id_rsa", "identityfile ~/.ssh/id_dsa", "escapechar ~", "ipqos lowdelay throughput",
		"userknownhostsfile /home/alice/.ssh/known_hosts /home/alice/.ssh/known_hosts2", "updatehostkeys true"} {
		if !slices.Contains(lines, want) {
			t.Errorf("no %q line", want)
		}
	}
	if lines[0] != "host h" || lines[len(lines)-1] != "syslogfacility USER" {
		t.Errorf("order: %q ... %q", lines[0], lines[len(lines)-1])
	}
}

func TestAlgorithmAssembly(t *testing.T) {
	for spec, want := range map[string]string{
		"-aes*":                          "chacha20-poly1305@openssh.com",
		"^aes128-cbc,3des-cbc":           "aes128-cbc,3des-cbc,chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
		"aes256-ctr,aes256-ctr":          "aes256-ctr",
		"+chacha20-poly1305@openssh.com": algCiphers.def,
	} {
		got, err := algCiphers.assemble(spec)
		if err != nil || got != want {
			t.Errorf("%q: %q %v", spec, got, err)
		}
	}
	if got, _ := algHostKey.assemble("ssh-rsa*"); got != "ssh-rsa,ssh-rsa-cert-v01@openssh.com" {
		t.Errorf("pattern: %q", got)
	}
	for _, bad := range []string{"aes*", "bogus", "+x", ""} {
		if algCiphers.valid(bad) == nil {
			t.Errorf("%q valid", bad)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	if matchPatternList("web1", "web*,!web1", false) != -1 || matchPatternList("web2", "web*,!web1", false) != 1 {
		t.Error("negation in pattern lists")
	}
	if MatchPatternList("a", "a?") != 0 || MatchPatternList("ab", "x,a?") != 1 {
		t.Error("MatchPatternList")
	}
}

func TestArgvSplitAndStrdelim(t *testing.T) {
	for in, want := range map[string][]string{
		`a b`:             {"a", "b"},
		`"a b" c`:         {"a b", "c"},
		`a"b c"d`:         {"ab cd"},
		`'x y' # comment`: {"x y"},
		`a\ b`:            {"a b"},
		`a#b`:             {"a#b"},
		`"\"q\""`:         {`"q"`},
		`\x`:              {`\x`},
	} {
		got, err := argvSplit(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("argvSplit(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := argvSplit(`"open`); err == nil {
		t.Error("unterminated quote accepted")
	}
	tok, rest, _, _ := strdelim("Port = 22", true)
	if tok != "Port" || rest != "22" {
		t.Errorf("strdelim: %q %q", tok, rest)
	}
}

func TestVisAndIPQoS(t *testing.T) {
	for c, want := range map[byte]string{'~': "~", 1: `\^A`, 0x1e: `\^^`, '\\': `\\`, ' ': `\040`, 0x7f: `\^?`, 0xe9: `\M-i`} {
		if got := vis(c); got != want {
			t.Errorf("vis(%#x) = %q, want %q", c, got, want)
		}
	}
	for in, want := range map[string]string{"8": "throughput", "0x10": "lowdelay", "reliability": "le", "AF21": "af21", "3": "0x03", "none": "none"} {
		if got, ok := parseIPQoS(in); !ok || got != want {
			t.Errorf("parseIPQoS(%q) = %q", in, got)
		}
	}
}

func TestCanonicalizeWithLookupHook(t *testing.T) {
	names := map[string]string{"web.b.example.": "web.b.example.", "db.a.example.": "db-cname.a.example.", "anchored.": "anchored."}
	var asked []string
	hook := func(in *Input) {
		in.LookupHost = func(_ context.Context, name string) (string, error) {
			asked = append(asked, name)
			if c, ok := names[name]; ok {
				return c, nil
			}
			return "", errors.New("no such host")
		}
	}
	cfg := "CanonicalizeHostname yes\nCanonicalDomains a.example b.example\nCanonicalizePermittedCNAMEs *.a.example:*.a.example\n" +
		"Match canonical host web.b.example\n  Port 2001\nMatch canonical host db-cname.a.example\n  Port 2002\n"
	if c := resolve(t, cfg, "web", hook); c.Hostname() != "web.b.example" || c.Port() != 2001 {
		t.Errorf("web: %q %d", c.Hostname(), c.Port())
	}
	if !slices.Equal(asked, []string{"web.a.example.", "web.b.example."}) {
		t.Errorf("asked %q", asked)
	}
	if c := resolve(t, cfg, "db", hook); c.Hostname() != "db-cname.a.example" || c.Port() != 2002 {
		t.Errorf("db (CNAME followed): %q %d", c.Hostname(), c.Port())
	}
	if c := resolve(t, cfg, "anchored.", hook); c.Hostname() != "anchored." {
		t.Errorf("anchored: %q", c.Hostname())
	}
	if c := resolve(t, cfg, "other", hook); c.Hostname() != "other" {
		t.Errorf("fallback: %q", c.Hostname())
	}
	in := testInput(write(t, "CanonicalizeFallbackLocal no\n"+cfg))
	hook(&in)
	if _, err := Resolve(context.Background(), "other", in); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "could not resolve") {
		t.Errorf("fallback no: %v", err)
	}
	// Through a ProxyCommand, only "always" looks names up.
	asked = nil
	if c := resolve(t, "ProxyCommand nc %h %p\n"+cfg, "web", hook); c.Hostname() != "web" || len(asked) != 0 {
		t.Errorf("proxied: %q, asked %q", c.Hostname(), asked)
	}
}

func TestNumericHost(t *testing.T) {
	for in, want := range map[string]string{"127.1": "127.0.0.1", "0x7f.0.0.1": "127.0.0.1", "010.0.0.1": "8.0.0.1",
		"0:0::A": "::a", "::1": "::1", "1": "0.0.0.1", "10.65536": "10.1.0.0", "fe80::1%eth0": "fe80::1%eth0"} {
		if got, ok := numericHost(in); !ok || got != want {
			t.Errorf("numericHost(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"1.2.3.4.5", "256.1.1.1", "a.b", "", "1..2", "10.16777216", "+1.2.3.4", "web"} {
		if got, ok := numericHost(in); ok {
			t.Errorf("numericHost(%q) = %q", in, got)
		}
	}
}
