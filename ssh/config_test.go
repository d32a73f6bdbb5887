package ssh

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshconfig"
	"github.com/libssh-go/libssh/sshtest"
)

// parsed resolves config text for host and returns the options; extra
// options are set first, as an application would.
func parsed(t *testing.T, config, host string, extra ...Option) Options {
	t.Helper()
	o, err := tryParse(t, config, host, extra...)
	if err != nil {
		t.Fatalf("OptionsParseConfig: %v", err)
	}
	return o
}

func tryParse(t *testing.T, config, host string, extra ...Option) (Options, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	writeFile(t, path, []byte(config))
	s := NewSession()
	if err := s.SetOption(append([]Option{Hostname(host), SSHDir(dir)}, extra...)...); err != nil {
		t.Fatal(err)
	}
	err := s.OptionsParseConfig(path)
	return s.Options(), err
}

func TestConfigAPISetOptionsWin(t *testing.T) {
	cfg := "Host h\n  Port 2200\n  User cfguser\n  IdentityFile /cfg/key\n  StrictHostKeyChecking no\n  Ciphers aes256-ctr\n  HostName real.example\n"
	o := parsed(t, cfg, "h", Port(2222), User("apiuser"), AddIdentity("/api/key"), CiphersCS("aes128-ctr"))
	if o.Port != 2222 || o.User != "apiuser" {
		t.Errorf("port %d user %q: the API values must win", o.Port, o.User)
	}
	if !slices.Equal(o.Identities, []string{"/api/key", "/cfg/key"}) {
		t.Errorf("identities %v: API ones first, then the config's", o.Identities)
	}
	if !slices.Equal(o.CiphersCS, []string{"aes128-ctr"}) || !slices.Equal(o.CiphersSC, []string{"aes128-ctr"}) {
		t.Errorf("ciphers %v/%v", o.CiphersCS, o.CiphersSC)
	}
	if o.StrictHostKeyChecking != "no" || o.Host != "real.example" {
		t.Errorf("unset options must come from the file: %q %q", o.StrictHostKeyChecking, o.Host)
	}
	// Hostname("user@host") sets the user too; the file must not undo it.
	if o := parsed(t, cfg, "bob@h"); o.User != "bob" {
		t.Errorf("user@host: user %q", o.User)
	}
}

func TestConfigMatchSeesAPIUser(t *testing.T) {
	o := parsed(t, "Match user apiuser\n  Port 2300\n", "h", User("apiuser"))
	if o.Port != 2300 {
		t.Fatalf("Match user did not see the API user: port %d", o.Port)
	}
}

func TestConfigDefaultFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "config"), []byte("Host h\n  Port 2400\n"))
	sys := filepath.Join(t.TempDir(), "ssh_config")
	writeFile(t, sys, []byte("Host *\n  Port 9999\n  User sysuser\n  Include sys.d/*.conf\n"))
	if err := os.Mkdir(filepath.Join(filepath.Dir(sys), "sys.d"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(filepath.Dir(sys), "sys.d", "a.conf"), []byte("HashKnownHosts yes\n"))
	s := NewSession()
	_ = s.SetOption(Hostname("h"), SSHDir(dir))
	s.opts.systemConfig = sys
	if err := s.OptionsParseConfig(""); err != nil {
		t.Fatal(err)
	}
	o := s.Options()
	if o.Port != 2400 || o.User != "sysuser" || !o.HashKnownHosts {
		t.Fatalf("user config then system config (with its relative Include): port %d user %q hash %v", o.Port, o.User, o.HashKnownHosts)
	}

	// Missing default files are fine; a missing explicit file is not.
	s = NewSession()
	_ = s.SetOption(Hostname("h"), SSHDir(t.TempDir()))
	s.opts.systemConfig = filepath.Join(t.TempDir(), "absent")
	if err := s.OptionsParseConfig(""); err != nil {
		t.Fatalf("missing default files: %v", err)
	}
	if err := s.OptionsParseConfig(filepath.Join(t.TempDir(), "absent")); !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("missing explicit file: %v", err)
	}
	if err := NewSession().OptionsParseConfig(""); !errors.Is(err, ErrHostnameRequired) {
		t.Fatalf("no host: %v", err)
	}
}

// TestConnectReadsConfig: Connect resolves ~/.ssh/config itself, unless
// ProcessConfig(false).
func TestConnectReadsConfig(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"cfg": {NoneAuth: true}}})
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "config"), []byte(fmt.Sprintf(
		"Host myalias\n  HostName %s\n  Port %d\n  User cfg\n", srv.Host(), srv.Port())))
	s := NewSession()
	_ = s.SetOption(Hostname("myalias"), SSHDir(dir))
	s.opts.systemConfig = os.DevNull
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("Connect via the config alias: %v", err)
	}
	defer s.Disconnect()
	if o := s.Options(); o.Port != srv.Port() || o.User != "cfg" {
		t.Fatalf("options after Connect: %+v", o)
	}
	_ = s.AcceptHostKey()
	if st, err := s.UserauthNone(testCtx(t), ""); st != AuthSuccess {
		t.Fatalf("auth as the config's user: %v %v", st, err)
	}

	off := NewSession()
	_ = off.SetOption(Hostname("myalias.invalid"), SSHDir(dir), ProcessConfig(false), Timeout(5*time.Second))
	if err := off.Connect(testCtx(t)); err == nil {
		off.Disconnect()
		t.Fatal("ProcessConfig(false) still resolved the alias")
	}
	if off.Options().configParsed {
		t.Fatal("ProcessConfig(false) parsed")
	}
}

func TestConfigRefusesFilesOthersCanWrite(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	writeFile(t, path, []byte("Port 2500\n"))
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	s := NewSession()
	_ = s.SetOption(Hostname("h"), SSHDir(dir))
	s.opts.systemConfig = os.DevNull
	err := s.OptionsParseConfig("")
	if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "permissions") {
		t.Fatalf("world-writable ~/.ssh/config: %v", err)
	}
	// As with ssh -F, an explicit file is not checked, but what it
	// includes is.
	if err := s.OptionsParseConfig(path); err != nil {
		t.Fatalf("explicit path: %v", err)
	}
	inc := filepath.Join(dir, "inc")
	writeFile(t, inc, []byte("Port 1\n"))
	_ = os.Chmod(inc, 0o620)
	writeFile(t, filepath.Join(dir, "main"), []byte("Include "+inc+"\n"))
	if err := s.OptionsParseConfig(filepath.Join(dir, "main")); err == nil || !strings.Contains(err.Error(), "permissions") {
		t.Fatalf("group-writable include: %v", err)
	}
}

// TestConfigBadInputsFailFast: a FIFO, a device, a huge line, a deep or
// looping Include chain each give a clear error at once, without reading
// much.
func TestConfigBadInputsFailFast(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if runtime.GOOS != "windows" {
		if err := mkfifo(fifo); err != nil {
			t.Fatal(err)
		}
	}
	long := filepath.Join(dir, "long")
	writeFile(t, long, []byte("User "+strings.Repeat("a", 10<<20)+"\n"))
	big := filepath.Join(dir, "bigline")
	writeFile(t, big, []byte("User "+strings.Repeat("b", 1<<20)+"\n"))
	chain := func(n int) string {
		for i := range n {
			next := fmt.Sprintf("Include %s/chain%d\n", dir, i+1)
			if i == n-1 {
				next = "Port 2600\n"
			}
			writeFile(t, fmt.Sprintf("%s/chain%d", dir, i), []byte(next))
		}
		return fmt.Sprintf("%s/chain0", dir)
	}
	writeFile(t, filepath.Join(dir, "loop"), []byte("Include "+filepath.Join(dir, "loop")+"\n"))

	cases := []struct {
		name, config, want string
	}{
		{"fifo", "Include " + fifo + "\n", "not a regular file"},
		{"dev zero", "Include /dev/zero\n", "not a regular file"},
		{"10 MB line", "Include " + long + "\n", "larger than"},
		{"1 MB line", "Include " + big + "\n", "line longer than"},
		{"include loop", "Include " + filepath.Join(dir, "loop") + "\n", "include loop"},
	}
	if runtime.GOOS == "windows" {
		cases = cases[2:]
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := tryParse(t, tc.config, "h")
			el := time.Since(start)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if el > 2*time.Second {
				t.Errorf("took %v", el)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
				t.Errorf("allocated %d MB", alloc>>20)
			}
			t.Logf("%s: %v in %v", tc.name, err, el)
		})
	}

	// OpenSSH's depth limit: the file named first is depth 0; 16 levels
	// of Include are fine, a 17th is an error.
	if o := parsed(t, "Include "+chain(16)+"\n", "h"); o.Port != 2600 {
		t.Fatalf("16-deep include chain: port %d", o.Port)
	}
	if _, err := tryParse(t, "Include "+chain(17)+"\n", "h"); err == nil || !strings.Contains(err.Error(), "recursive") {
		t.Fatalf("17-deep include chain: %v", err)
	}
}

func TestConfigIncludeRelativeAndTilde(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "extra.conf"), []byte("Host h\n  Port 2700\n"))
	main := filepath.Join(dir, "config")
	writeFile(t, main, []byte("Include extra.conf\n"))
	s := NewSession()
	_ = s.SetOption(Hostname("h"), SSHDir(dir))
	if err := s.OptionsParseConfig(main); err != nil || s.Options().Port != 2700 {
		t.Fatalf("relative include under SSHDir: %v port %d", err, s.Options().Port)
	}
	// A system config may not use ~.
	sys := filepath.Join(t.TempDir(), "ssh_config")
	writeFile(t, sys, []byte("Include ~/x\n"))
	s = NewSession()
	_ = s.SetOption(Hostname("h"), SSHDir(t.TempDir()))
	s.opts.systemConfig = sys
	if err := s.OptionsParseConfig(""); err == nil || !strings.Contains(err.Error(), "bad include path") {
		t.Fatalf("~ in the system config: %v", err)
	}
}

// TestConfigTaggedAndLocalnetwork covers the criteria OpenSSH 9.4 added,
// which the 9.2 oracle cannot check.
func TestConfigTaggedAndLocalnetwork(t *testing.T) {
	o := parsed(t, "Host h\n  Tag prod\nMatch tagged prod\n  Port 2801\nMatch tagged dev\n  User dev\nMatch !tagged dev\n  HashKnownHosts yes\n", "h")
	if o.Port != 2801 || o.User == "dev" || !o.HashKnownHosts {
		t.Fatalf("tagged: %+v", o)
	}
	if o := parsed(t, "Match tagged dev,!prod\n  Port 2802\n", "x"); o.Port != 22 {
		t.Fatalf("no Tag: nothing tagged: %d", o.Port)
	}
	o = parsed(t, "Match localnetwork 127.0.0.0/8,::1/128\n  Port 2803\nMatch !localnetwork 127.0.0.0/8\n  User testnet\n", "h")
	if o.Port != 2803 || o.User == "testnet" {
		t.Fatalf("localnetwork: port %d user %q", o.Port, o.User)
	}
	for _, bad := range []string{"Match localnetwork 10.0.0.0/33\n", "Match localnetwork nonsense\n", "Match localnetwork 10.0.0.1/8\n"} {
		if _, err := tryParse(t, bad+"  Port 1\n", "h"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestConfigAlgorithmLists(t *testing.T) {
	o := parsed(t, "Ciphers +aes128-cbc\nMACs -hmac-sha1\nKexAlgorithms ^ecdh-sha2-nistp521\nHostKeyAlgorithms webauthn-sk-ecdsa-sha2-nistp256@openssh.com,ssh-ed25519\n", "h")
	if c := o.CiphersCS; c[len(c)-1] != "aes128-cbc" || !slices.Equal(o.CiphersSC, c) {
		t.Errorf("+ ciphers: %v", c)
	}
	if slices.Contains(o.HmacCS, "hmac-sha1") {
		t.Errorf("- macs: %v", o.HmacCS)
	}
	if o.KeyExchanges[0] != "ecdh-sha2-nistp521" {
		t.Errorf("^ kex: %v", o.KeyExchanges)
	}
	if !slices.Equal(o.HostKeyAlgorithms, []string{"ssh-ed25519"}) {
		t.Errorf("names x/crypto lacks are skipped: %v", o.HostKeyAlgorithms)
	}
	// OpenSSH's umac MACs are not in x/crypto: skipped, not fatal.
	o = parsed(t, "MACs umac-64-etm@openssh.com,hmac-sha2-256\n", "h")
	if !slices.Equal(o.HmacCS, []string{"hmac-sha2-256"}) {
		t.Errorf("macs %v", o.HmacCS)
	}
	if _, err := tryParse(t, "MACs umac-64-etm@openssh.com\n", "h"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("a list with nothing usable: %v", err)
	}
}

func TestConfigMatchExecRefusesUnsafeNames(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	cfg := "Match exec \"touch " + marker + "; test %h = x\"\n  Port 1\n"
	_, err := tryParse(t, cfg, "x;id")
	if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "metacharacters") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the command ran")
	}
	// A safe name runs it.
	if o := parsed(t, cfg, "x"); o.Port != 1 {
		t.Fatalf("safe exec: port %d", o.Port)
	}
}

func TestConfigTokensAndEnv(t *testing.T) {
	t.Setenv("LIBSSH_TEST_DIR", "/env/dir")
	o := parsed(t, "Host h\n  HostName real.example\n  User ru\n  Port 2900\n  ProxyJump j1\n"+
		"  IdentityFile ${LIBSSH_TEST_DIR}/%h-%r-%p-%n-%j\n  UserKnownHostsFile /kh/%k\n", "h")
	if !slices.Equal(o.Identities, []string{"/env/dir/real.example-ru-2900-h-j1"}) {
		t.Errorf("identity %v", o.Identities)
	}
	if !slices.Equal(o.KnownHosts, []string{"/kh/h"}) {
		t.Errorf("known hosts %v", o.KnownHosts)
	}
	for _, bad := range []string{"IdentityFile /x/%Q\n", "IdentityFile /x/%\n", "IdentityFile ${NOPE_LIBSSH_UNSET}\n",
		"IdentityFile ${BAD-NAME}\n", "HostName %p.example\n"} {
		if _, err := tryParse(t, bad, "h"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestConfigIgnoresKnownKeywordsAndRejectsUnknown(t *testing.T) {
	o := parsed(t, "Compression yes\nControlMaster auto\nGSSAPIAuthentication yes\nObscureKeystrokeTiming yes\nPort 3000\n", "h")
	if o.Port != 3000 {
		t.Fatal("lines after ignored keywords were lost")
	}
	if _, err := tryParse(t, "Host other\n  Frobnicate yes\n", "h"); err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Fatalf("unknown keyword in an inactive block: %v", err)
	}
	if o := parsed(t, "IgnoreUnknown frob*\nFrobnicate yes\nPort 3001\n", "h"); o.Port != 3001 {
		t.Fatal("IgnoreUnknown")
	}
	// IgnoreUnknown only counts when it applies.
	if _, err := tryParse(t, "Host other\n  IgnoreUnknown frob*\nHost *\n  Frobnicate yes\n", "h"); err == nil {
		t.Fatal("inactive IgnoreUnknown honoured")
	}
	var ce *ConfigError
	_, err := tryParse(t, "Port 1\nPort nope\n", "h")
	if !errors.As(err, &ce) || ce.Line != 2 || !strings.HasSuffix(ce.File, "config") {
		t.Fatalf("error position: %#v", err)
	}
}

// TestConfigLibsshCases are libssh's tests/unittests/torture_config.c cases
// where libssh and OpenSSH agree (checked with ssh -G); where they differ
// this library follows OpenSSH, as noted.
func TestConfigLibsshCases(t *testing.T) {
	cases := []struct {
		name, config, host string
		want               map[string]string // ssh -G keyword -> line value
	}{
		{"double ports: first wins", "Port 1234\nPort 5678\n", "h", map[string]string{"port": "1234"}},
		{"host then star", "Host example\n  User example\nHost *\n  User star\n", "example", map[string]string{"user": "example"}},
		{"hostname token", "Host alias\n  HostName %h.example.com\n", "alias", map[string]string{"hostname": "alias.example.com"}},
		{"proxyjump", "Host ex\n  ProxyJump user@jump:2222\n", "ex", map[string]string{"proxyjump": "user@jump:2222"}},
		{"proxyjump ipv6", "ProxyJump [2620:52:0::fed]\n", "h", map[string]string{"proxyjump": "[2620:52:0::fed]"}},
		{"proxyjump none", "ProxyJump none\n", "h", map[string]string{"proxyjump": ""}},
		{"proxycommand", "ProxyCommand nc %h %p\n", "h", map[string]string{"proxycommand": "nc %h %p"}},
		{"rekey", "RekeyLimit 4G 60\n", "h", map[string]string{"rekeylimit": "4294967296 60"}},
		{"rekey default", "RekeyLimit default none\nRekeyLimit 1M 1m\n", "h", map[string]string{"rekeylimit": "0 60"}},
		{"match all", "Match all\n  User all\n", "h", map[string]string{"user": "all"}},
		{"match host list", "Match host a,b,h\n  Port 1\n", "h", map[string]string{"port": "1"}},
		{"match negated host", "Match !host h\n  Port 1\n", "h", map[string]string{"port": "22"}},
		{"match exec", "Match exec true\n  Port 2\n", "h", map[string]string{"port": "2"}},
		{"match user", "Match user guest\n  Port 3\n", "h", map[string]string{"port": "3"}},
		{"auth methods", "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication no\n", "h",
			map[string]string{"passwordauthentication": "no", "kbdinteractiveauthentication": "no", "pubkeyauthentication": "false"}},
		{"pubkey accepted types", "PubkeyAcceptedKeyTypes ssh-ed25519\n", "h", map[string]string{"pubkeyacceptedalgorithms": "ssh-ed25519"}},
		{"identities only", "IdentitiesOnly yes\n", "h", map[string]string{"identitiesonly": "yes"}},
		{"known hosts", "UserKnownHostsFile /a /b\nGlobalKnownHostsFile /g\n", "h",
			map[string]string{"userknownhostsfile": "/a /b", "globalknownhostsfile": "/g"}},
		{"quoted values", "User \"a\"\nHostName 'b.example'\n", "h", map[string]string{"user": "a", "hostname": "b.example"}},
		{"equals sign", "Port=2345\n", "h", map[string]string{"port": "2345"}},
		{"case-insensitive keyword", "pOrT 3456\n", "h", map[string]string{"port": "3456"}},
		{"ciphers", "Ciphers aes256-ctr,aes128-ctr\n", "h", map[string]string{"ciphers": "aes256-ctr,aes128-ctr"}},
		{"log level", "LogLevel DEBUG2\n", "h", map[string]string{"loglevel": "DEBUG3"}}, // libssh: DEBUG2 is TRACE
		{"connect timeout", "ConnectTimeout 30\n", "h", map[string]string{"connecttimeout": "30"}},
		{"strict", "StrictHostKeyChecking yes\n", "h", map[string]string{"stricthostkeychecking": "true"}},
		{"batch mode keepalive", "BatchMode yes\n", "h", map[string]string{"serveraliveinterval": "300"}},
	}
	user := localUser()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := []Option{}
			if strings.Contains(tc.config, "Match user guest") {
				opts = append(opts, User("guest"))
			}
			got := gLines(parsed(t, tc.config, tc.host, opts...).String())
			for k, v := range tc.want {
				if first(got[k]) != v {
					t.Errorf("%s = %q, want %q (user %s)", k, first(got[k]), v, user)
				}
			}
		})
	}
}

func TestConfigForwardSpecs(t *testing.T) {
	o := parsed(t, "LocalForward 8080 remote:80\nLocalForward /tmp/l.sock /tmp/r.sock\nRemoteForward 0 localhost:22\nRemoteForward 9000\nDynamicForward *:1080\n", "h")
	want := []string{"8080 [remote]:80", "/tmp/l.sock /tmp/r.sock"}
	var got []string
	for _, f := range o.LocalForwards {
		got = append(got, f.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("local %q", got)
	}
	if len(o.RemoteForwards) != 2 || o.RemoteForwards[1].String() != "9000" || o.DynamicForwards[0].String() != "[*]:1080" {
		t.Errorf("remote %v dynamic %v", o.RemoteForwards, o.DynamicForwards)
	}
	for _, bad := range []string{"LocalForward 0 h:1\n", "LocalForward 80\n", "DynamicForward a:b:c\n", "LocalForward 1 h:x\n", "LocalForward [::1 h:1\n"} {
		if _, err := tryParse(t, bad, "h"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	s := NewSession()
	if err := s.SetOption(LocalForward("8080 remote:80"), DynamicForward("1080"), RemoteForward("[::1]:2222 db:5432")); err != nil {
		t.Fatal(err)
	}
	if o := s.Options(); o.LocalForwards[0].ConnectHost != "remote" || o.RemoteForwards[0].ListenHost != "::1" {
		t.Fatalf("%+v", o.RemoteForwards)
	}
	if err := s.SetOption(LocalForward("nonsense")); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("bad LocalForward: %v", err)
	}
}

// gLines splits `ssh -G`-style output into keyword -> values.
func gLines(s string) map[string][]string {
	m := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		k, v, _ := strings.Cut(l, " ")
		m[k] = append(m[k], v)
	}
	return m
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// A host alias from an ssh_config file resolves as `ssh` would resolve it.
func ExampleSession_OptionsParseConfig() {
	dir, err := os.MkdirTemp("", "libssh-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "config")
	config := "Host web\n  HostName web.example.com\n  Port 2222\n  User deploy\n  IdentityFile ~/.ssh/id_%h\n"
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		fmt.Println(err)
		return
	}
	s := NewSession()
	if err := s.SetOption(Hostname("web")); err != nil {
		fmt.Println(err)
		return
	}
	if err := s.OptionsParseConfig(path); err != nil {
		fmt.Println(err)
		return
	}
	o := s.Options()
	fmt.Println(o.User, o.Host, o.Port, filepath.Base(o.Identities[0]))
	// Output: deploy web.example.com 2222 id_web.example.com
}

// requireSSH returns the OpenSSH client, or skips (fails under
// LIBSSH_INTEROP=1) when it is missing.
func requireSSH(t *testing.T) string {
	t.Helper()
	const sshBin = "/usr/bin/ssh"
	if _, err := os.Stat(sshBin); err != nil {
		if os.Getenv("LIBSSH_INTEROP") == "1" {
			t.Fatalf("LIBSSH_INTEROP=1 but %s is missing: %v", sshBin, err)
		}
		t.Skipf("%s not installed; this test needs OpenSSH (set LIBSSH_INTEROP=1 to require it)", sshBin)
	}
	return sshBin
}

// TestConfigRefusesAlgorithmsOpenSSHLacks: a name OpenSSH does not
// implement is an error in the file, as `ssh -G` says.
func TestConfigRefusesAlgorithmsOpenSSHLacks(t *testing.T) {
	var ce *ConfigError
	if _, err := tryParse(t, "HostKeyAlgorithms umac-nonsense,ssh-ed25519\n", "h"); !errors.As(err, &ce) || ce.Line != 1 || !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("got %v", err)
	}
}

// TestConfigAPIProxyJumpRulesOutFileProxyCommand: a ProxyJump set through
// the API wins over the file's ProxyCommand, as -J over a config's.
func TestConfigAPIProxyJumpRulesOutFileProxyCommand(t *testing.T) {
	o := parsed(t, "ProxyCommand nc %h %p\nHostKeyAlias cfgalias\n", "h", ProxyJump("j1"), HostKeyAlias("apialias"))
	if o.ProxyJump != "j1" || o.ProxyCommand != "" || o.HostKeyAlias != "apialias" {
		t.Fatalf("ProxyJump %q ProxyCommand %q HostKeyAlias %q", o.ProxyJump, o.ProxyCommand, o.HostKeyAlias)
	}
	o = parsed(t, "ProxyJump j2\n", "h", ProxyCommand("nc x 1"))
	if o.ProxyJump != "" || o.ProxyCommand != "nc x 1" {
		t.Fatalf("ProxyJump %q ProxyCommand %q", o.ProxyJump, o.ProxyCommand)
	}
}

// TestConfigErrorPosition: an error found when the resolution is applied
// (a value this library refuses) still names the file and line.
func TestConfigErrorPosition(t *testing.T) {
	var ce *ConfigError
	_, err := tryParse(t, "Port 22\nMACs umac-64-etm@openssh.com\n", "h")
	if !errors.As(err, &ce) || ce.Line != 2 || !strings.HasSuffix(ce.File, "config") || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("%#v", err)
	}
	var se *sshconfig.Error
	_, err = tryParse(t, "Port 1\nPort nope\n", "h")
	if !errors.As(err, &se) || se.Line != 2 || !errors.Is(err, sshconfig.ErrInvalid) || !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("the sshconfig error must be reachable: %#v", err)
	}
	if strings.Count(err.Error(), "line 2") != 1 {
		t.Errorf("message %q", err)
	}
}
