package sftp

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/delayproxy"
	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
)

func TestDefaultLanes(t *testing.T) {
	big := int64(MultiChannelThreshold)
	for _, tc := range []struct {
		size int64
		rtt  time.Duration
		want int
	}{
		{big, 0, 1},
		{big, 200 * time.Microsecond, 1}, // loopback
		{big, LaneRoundTrip - 1, 1},
		{big, LaneRoundTrip, 2},
		{big, 2 * LaneRoundTrip, 3},
		{big, 50 * time.Millisecond, DefaultChannels},
		{big, time.Second, DefaultChannels},
		{big - 1, time.Second, 1}, // a small file never pays for extra channels
	} {
		if got := defaultLanes(tc.size, tc.rtt); got != tc.want {
			t.Errorf("defaultLanes(%d, %v) = %d, want %d", tc.size, tc.rtt, got, tc.want)
		}
	}
}

// TestClientMeasuresRoundTrip checks that the round trip the lanes are chosen from is the
// link's: at least the delay a relay adds, and far below it without the relay.
func TestClientMeasuresRoundTrip(t *testing.T) {
	const added = 40 * time.Millisecond
	dir := t.TempDir()
	srv := sshtest.New(t, sshtest.Config{
		Users:      map[string]sshtest.User{"alice": {Password: "pw"}},
		Subsystems: map[string]func(sshtest.ExecContext) int{"sftp": sshtest.SFTPHandler(sshtest.SFTPOptions{Dir: dir})},
	})
	direct, err := New(testCtx(t), loginTo(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()

	p, err := delayproxy.Start(net.JoinHostPort(srv.Host(), strconv.Itoa(srv.Port())), added)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	host, port, _ := net.SplitHostPort(p.Addr())
	n, _ := strconv.Atoi(port)
	s := ssh.NewSession()
	if err := s.SetOption(ssh.ProcessConfig(false), ssh.Hostname(host), ssh.Port(n),
		ssh.User("alice"), ssh.SSHDir(t.TempDir()), ssh.StrictHostKeyChecking("no")); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != ssh.AuthSuccess {
		t.Fatalf("login: %v %v", st, err)
	}
	delayed, err := New(testCtx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	defer delayed.Close()

	if delayed.rtt < added {
		t.Errorf("through a relay adding %v the client measured %v", added, delayed.rtt)
	}
	if direct.rtt >= delayed.rtt {
		t.Errorf("direct round trip %v is not below the delayed one %v", direct.rtt, delayed.rtt)
	}
	if got := defaultLanes(MultiChannelThreshold, delayed.rtt); got < 2 {
		t.Errorf("at %v a large transfer uses %d channel(s)", delayed.rtt, got)
	}
}
