package ssh

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSetOptionRejectsBadValuesNamingTheOption(t *testing.T) {
	cases := []struct {
		opt  Option
		name string
	}{
		{Port(0), "Port"},
		{Port(70000), "Port"},
		{Hostname(""), "Hostname"},
		{Hostname("bad host"), "Hostname"},
		{Hostname("@host"), "Hostname"},
		{Hostname("-h"), "Hostname"},
		{Hostname("u@-oProxyCommand=x"), "Hostname"},
		{User("a\nb"), "User"},
		{KeyExchange("no-such-kex"), "KeyExchange"},
		{KeyExchange(""), "KeyExchange"},
		{CiphersCS("aes128-ctr,,aes256-ctr"), "CiphersCS"},
		{CiphersSC("rot13"), "CiphersSC"},
		{HmacCS("hmac-md4"), "HmacCS"},
		{HostKeys("ssh-foo"), "HostKeys"},
		{PublicKeyAcceptedTypes(""), "PublicKeyAcceptedTypes"},
		{KeyExchange("-" + strings.Join(defaultAlgorithms(kindKex), ",")), "KeyExchange"},
		{Timeout(-time.Second), "Timeout"},
		{StrictHostKeyChecking("maybe"), "StrictHostKeyChecking"},
		{PreferredAuthentications("password,telepathy"), "PreferredAuthentications"},
		{KnownHosts(""), "KnownHosts"},
		{LogLevel(LogVerbosity(42)), "LogLevel"},
		{ServerAliveCountMax(-1), "ServerAliveCountMax"},
	}
	for _, tc := range cases {
		s := NewSession()
		err := s.SetOption(tc.opt)
		var oe *OptionError
		if !errors.As(err, &oe) || !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: got %v, want an *OptionError", tc.name, err)
			continue
		}
		if oe.Option != tc.name || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("error %q does not name option %s", err, tc.name)
		}
	}
}

func TestSetOptionIsAtomic(t *testing.T) {
	s := NewSession()
	if err := s.SetOption(Port(2222), Port(0)); err == nil {
		t.Fatal("want error")
	}
	if got := s.Options().Port; got != 22 {
		t.Fatalf("port = %d after a refused SetOption, want 22", got)
	}
}

func TestDefaultOptions(t *testing.T) {
	o := NewSession().Options()
	if o.Port != 22 || o.User == "" || !strings.HasSuffix(o.SSHDir, ".ssh") || o.StrictHostKeyChecking != "ask" || !o.ProcessConfig {
		t.Fatalf("unexpected defaults: %+v", o)
	}
	if o.CiphersCS[0] != "aes128-gcm@openssh.com" {
		t.Fatalf("default cipher order starts with %s", o.CiphersCS[0])
	}
}

func TestHostnameWithUser(t *testing.T) {
	s := NewSession()
	if err := s.SetOption(Hostname("alice@example.org")); err != nil {
		t.Fatal(err)
	}
	o := s.Options()
	if o.Host != "example.org" || o.User != "alice" {
		t.Fatalf("got host %q user %q", o.Host, o.User)
	}
	if err := s.SetOption(Hostname("[::1]")); err != nil || s.Options().Host != "::1" {
		t.Fatalf("bracketed IPv6: %v %q", err, s.Options().Host)
	}
	name, err := s.UserName()
	if err != nil || name != "alice" {
		t.Fatalf("UserName = %q, %v", name, err)
	}
}

func TestAlgorithmListOperators(t *testing.T) {
	s := NewSession()
	if err := s.SetOption(CiphersCS("^aes256-ctr")); err != nil {
		t.Fatal(err)
	}
	if c := s.Options().CiphersCS; c[0] != "aes256-ctr" || len(c) != len(defaultCiphers) {
		t.Fatalf("^ gave %v", c)
	}
	if err := s.SetOption(KeyExchange("-curve25519-sha256")); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(s.Options().KeyExchanges, "curve25519-sha256") {
		t.Fatal("- did not remove")
	}
	if err := s.SetOption(HmacCS("+hmac-sha1-96")); err != nil {
		t.Fatal(err)
	}
	if m := s.Options().HmacCS; m[len(m)-1] != "hmac-sha1-96" {
		t.Fatalf("+ gave %v", m)
	}
}

func TestPerDirectionCiphersMustAgree(t *testing.T) {
	s := NewSession()
	if err := s.SetOption(CiphersCS("aes128-ctr")); err != nil {
		t.Fatal(err)
	}
	if got := s.Options().CiphersSC; !slices.Equal(got, []string{"aes128-ctr"}) {
		t.Fatalf("CiphersSC = %v; one list serves both directions", got)
	}
	if err := s.SetOption(CiphersSC("aes128-ctr")); err != nil {
		t.Fatalf("same list for the other direction: %v", err)
	}
	err := s.SetOption(CiphersSC("aes256-ctr"))
	if !errors.Is(err, ErrUnsupported) || !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("different lists per direction: %v, want ErrUnsupported", err)
	}
	// The same direction may change its mind.
	if err := s.SetOption(HmacCS("hmac-sha2-256"), HmacCS("hmac-sha2-512")); err != nil {
		t.Fatal(err)
	}
}

func TestOptionsStringIsSSHGForm(t *testing.T) {
	s := NewSession()
	if err := s.SetOption(Hostname("h.example"), Port(2200), User("u"), AddIdentity("/k1"), AddIdentity("/k2")); err != nil {
		t.Fatal(err)
	}
	out := s.Options().String()
	for _, want := range []string{"hostname h.example\n", "port 2200\n", "user u\n", "identityfile /k1\nidentityfile /k2\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, _, ok := strings.Cut(line, " ")
		if !ok || k != strings.ToLower(k) {
			t.Errorf("line %q is not `keyword value`", line)
		}
	}
}

func TestDefaultHostKeyOrderIsOpenSSHs(t *testing.T) {
	got := NewSession().Options().HostKeyAlgorithms
	firstPlain := slices.IndexFunc(got, func(a string) bool { return underlyingAlgo(a) == a })
	if firstPlain < 0 || got[firstPlain] != "ssh-ed25519" || got[0] != "ssh-ed25519-cert-v01@openssh.com" {
		t.Fatalf("default host key order %v", got)
	}
	if slices.Index(got, "rsa-sha2-512") < slices.Index(got, "ecdsa-sha2-nistp256") {
		t.Fatalf("RSA before ECDSA: %v", got)
	}
}

// Values built by hand never make a String method panic.
func TestStringsOfOutOfRangeValues(t *testing.T) {
	for _, s := range []string{AuthStatus(-1).String(), AuthStatus(99).String(), KnownHostsState(42).String(), AuthMethods(0xffff).String()} {
		if s == "" {
			t.Error("empty string")
		}
	}
}

// TestHostnameRefusesAPort: libssh's SSH_OPTIONS_HOST takes "[user@]host"
// and never a port (ssh_config_parse_uri with ignore_port), so
// "user@host:port" would fail only at Connect, with a confusing error.
// SetOption refuses it at once and says to use Port; IPv6 addresses, bare
// or in brackets, are still host names.
func TestHostnameRefusesAPort(t *testing.T) {
	for _, bad := range []string{"user@127.0.0.1:57199", "127.0.0.1:22", "example.org:2222", "[::1]:2222", "u@[fe80::1]:22", "ssh://example.org", "[::1"} {
		s := NewSession()
		err := s.SetOption(Hostname(bad))
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != "Hostname" || !errors.Is(err, ErrInvalidOption) {
			t.Errorf("Hostname(%q): %v, want an *OptionError for Hostname", bad, err)
			continue
		}
		if strings.Contains(bad, "]:") || strings.Count(bad, ":") == 1 && !strings.Contains(bad, "//") {
			if !strings.Contains(err.Error(), "Port") {
				t.Errorf("Hostname(%q): %q does not say to use Port", bad, err)
			}
		}
		if o := s.Options(); o.Host != "" || o.User != NewSession().Options().User {
			t.Errorf("Hostname(%q) refused but left host %q user %q", bad, o.Host, o.User)
		}
	}
	for in, want := range map[string]string{"::1": "::1", "[::1]": "::1", "u@fe80::1%eth0": "fe80::1%eth0", "u@[2001:db8::1]": "2001:db8::1", "h.example": "h.example"} {
		s := NewSession()
		if err := s.SetOption(Hostname(in)); err != nil || s.Options().Host != want {
			t.Errorf("Hostname(%q): %v, host %q, want %q", in, err, s.Options().Host, want)
		}
	}
}
