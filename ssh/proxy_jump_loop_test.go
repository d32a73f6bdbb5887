package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// closedPorts returns n distinct ports on 127.0.0.1 that nothing listens on
// (they were free a moment ago; a connection to them is refused at once).
func closedPorts(t *testing.T, n int) []int {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return ports
}

// TestProxyJumpLoopMatchesOpenSSH is the differential test of issue 15:
// for each chain, OpenSSH's own verdict (does `ssh -J chain dest` die with
// "jumphost loop via"?) is compared with the library's (does Connect refuse
// with the jump host loop?). Every port is closed, so a chain that is not a
// loop fails at its first hop, for both, without reaching a server; ssh -G
// does not run the check, so ssh has to try to connect.
func TestProxyJumpLoopMatchesOpenSSH(t *testing.T) {
	sshPath := requireSSH(t)
	p := closedPorts(t, 4)
	A, B, C, D := strconv.Itoa(p[0]), strconv.Itoa(p[1]), strconv.Itoa(p[2]), strconv.Itoa(p[3])
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	writeFile(t, cfg, []byte(`Host alias
  HostName 127.0.0.1
  Port `+A+`
Host useralias
  HostName 127.0.0.1
  Port `+A+`
  User u
Host localhost
  Port `+A+`
Host *
  UserKnownHostsFile /dev/null
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  IdentityAgent none
  IdentitiesOnly yes
  ConnectTimeout 1
`))

	cases := []struct {
		name string
		jump string
		dest string // [user@]host as given to ssh
		port string // -p; "" = none
	}{
		{"issue 15: an earlier hop names the destination", "u@127.0.0.1:" + A + ",u@127.0.0.1:" + B, "u@127.0.0.1", A},
		{"-J b b", "127.0.0.1", "127.0.0.1", ""},
		{"-J b b, explicit ports", "127.0.0.1:" + A, "127.0.0.1", A},
		{"-J admin@b b", "admin@127.0.0.1:" + A, "127.0.0.1", A},
		{"-J u@b u@b", "u@127.0.0.1:" + A, "u@127.0.0.1", A},
		{"-J u@b v@b", "u@127.0.0.1:" + A, "v@127.0.0.1", A},
		{"-J b:2222 b", "127.0.0.1:" + A, "127.0.0.1", ""},
		{"-J b:A b -p B", "127.0.0.1:" + A, "127.0.0.1", B},
		{"three hops, the middle one is the destination", "127.0.0.1:" + B + ",127.0.0.1:" + A + ",127.0.0.1:" + C, "127.0.0.1", A},
		{"three hops, the last one is the destination", "127.0.0.1:" + B + ",127.0.0.1:" + C + ",127.0.0.1:" + A, "127.0.0.1", A},
		{"two equal hops in a row", "127.0.0.1:" + B + ",127.0.0.1:" + B, "127.0.0.1", A},
		{"two equal hops, not adjacent", "127.0.0.1:" + B + ",127.0.0.1:" + C + ",127.0.0.1:" + B, "127.0.0.1", A},
		{"alias: the hop as written is not resolved", "alias", "alias", ""},
		{"alias: the destination is resolved", "127.0.0.1:" + A, "alias", ""},
		{"alias: the destination's configured user", "u@127.0.0.1:" + A, "useralias", ""},
		{"alias: another configured user", "admin@127.0.0.1:" + A, "useralias", ""},
		{"alias: the next hop is resolved", "127.0.0.1:" + A + ",alias", "127.0.0.1", D},
		{"configured port does not count for the hop", "localhost", "localhost", ""},
		{"configured port of the destination", "localhost:" + A, "localhost", ""},
		{"destination name is lowercased", "localhost:" + A, "LOCALHOST", A},
		{"hop name is taken as written", "LOCALHOST:" + A, "localhost", A},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"-F", cfg, "-J", tc.jump}
			if tc.port != "" {
				args = append(args, "-p", tc.port)
			}
			args = append(args, tc.dest, "true")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, sshPath, args...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			runErr := cmd.Run()
			if runErr == nil {
				t.Fatalf("ssh %s succeeded; every port should be closed", strings.Join(args, " "))
			}
			if ctx.Err() != nil {
				t.Fatalf("ssh %s did not end: %s", strings.Join(args, " "), out.String())
			}
			opensshLoop := strings.Contains(out.String(), "jumphost loop via")

			s := NewSession()
			defer s.Disconnect()
			opts := []Option{Hostname(tc.dest), SSHDir(dir), ProxyJump(tc.jump)}
			if tc.port != "" {
				n, _ := strconv.Atoi(tc.port)
				opts = append(opts, Port(n))
			}
			if err := s.SetOption(opts...); err != nil {
				t.Fatal(err)
			}
			if err := s.OptionsParseConfig(cfg); err != nil {
				t.Fatal(err)
			}
			err := s.Connect(ctx)
			if err == nil {
				t.Fatal("Connect succeeded; every port should be closed")
			}
			libLoop := errors.Is(err, errJumpLoop)
			if libLoop && !errors.Is(err, ErrInvalidOption) {
				t.Errorf("the loop error %v does not match ErrInvalidOption", err)
			}
			if libLoop != opensshLoop {
				t.Errorf("ssh -J %s %s%s: OpenSSH loop=%v (%s), library loop=%v (%v)",
					tc.jump, tc.dest, map[bool]string{true: " -p " + tc.port}[tc.port != ""],
					opensshLoop, strings.TrimSpace(out.String()), libLoop, err)
			}
			t.Logf("loop=%v; ssh: %s; library: %v", opensshLoop, firstLine(out.String()), err)
		})
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// TestProxyJumpLoopRule pins the rule without OpenSSH: the last hop against
// the destination, each hop against the next one, nothing else.
func TestProxyJumpLoopRule(t *testing.T) {
	p := closedPorts(t, 2)
	A, B := strconv.Itoa(p[0]), strconv.Itoa(p[1])
	for _, tc := range []struct {
		jump string
		loop bool
	}{
		{fmt.Sprintf("u@127.0.0.1:%s,u@127.0.0.1:%s", A, B), false},
		{fmt.Sprintf("u@127.0.0.1:%s,u@127.0.0.1:%s", B, A), true},
		{fmt.Sprintf("127.0.0.1:%s,127.0.0.1:%s", B, B), true},
		{fmt.Sprintf("other@127.0.0.1:%s", A), false},
	} {
		s := NewSession()
		if err := s.SetOption(Hostname("u@127.0.0.1"), Port(p[0]), SSHDir(t.TempDir()), ProcessConfig(false), ProxyJump(tc.jump)); err != nil {
			t.Fatal(err)
		}
		err := s.Connect(testCtx(t))
		_ = s.Disconnect()
		if got := errors.Is(err, errJumpLoop); got != tc.loop {
			t.Errorf("-J %s: loop = %v (%v), want %v", tc.jump, got, err, tc.loop)
		}
	}
}
