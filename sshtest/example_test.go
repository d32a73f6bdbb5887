package sshtest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	libssh "github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
	"github.com/libssh-go/libssh/sshtest/sshclient"
	"golang.org/x/crypto/ssh"
)

// In a test, New starts a server for that test only and closes it at
// t.Cleanup; sshclient.Connect gives a logged-in session of this module's
// ssh package. The function under test here runs "uptime".
func ExampleNew() {
	var t *testing.T // the *testing.T of func TestUptime(t *testing.T)

	srv := sshtest.New(t, sshtest.Config{
		Users: map[string]sshtest.User{"alice": {Password: "pw"}},
		Exec: func(ctx sshtest.ExecContext) int {
			fmt.Fprintln(ctx.Stdout, "up 3 days")
			return 0
		},
	})
	sess := sshclient.Connect(t, srv, "alice") // disconnects at t.Cleanup

	out, err := sess.Output(t.Context(), "uptime")
	if err != nil || string(out) != "up 3 days\n" {
		t.Fatalf("uptime = %q, %v", out, err)
	}
}

// An Exec handler literal decides what each command does; here "uptime"
// prints a fixed line and every other command falls back to the
// built-ins. The client is this module's ssh package, with the host key
// checked against the server's known_hosts lines.
func ExampleConfig_exec() {
	srv, err := sshtest.Start(sshtest.Config{
		Users: map[string]sshtest.User{"alice": {Password: "pw"}},
		Exec: func(ctx sshtest.ExecContext) int {
			if ctx.Command == "uptime" {
				fmt.Fprintln(ctx.Stdout, "10:17:03 up 3 days, load average: 0.00")
				return 0
			}
			return sshtest.RunBuiltin(ctx)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(srv.KnownHostsLine()), 0o600); err != nil {
		fmt.Println(err)
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sess := libssh.NewSession()
	defer sess.Disconnect()
	_ = sess.SetOption(libssh.Hostname(srv.Host()), libssh.Port(srv.Port()), libssh.User("alice"),
		libssh.ProcessConfig(false), libssh.KnownHosts(knownHosts), libssh.GlobalKnownHosts(knownHosts))
	if err := sess.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	state, err := sess.IsKnownServer()
	fmt.Println("host key:", state, err)
	status, err := sess.UserauthPassword(ctx, "", "pw")
	fmt.Println("auth:", status, err)

	for _, cmd := range []string{"uptime", "whoami"} {
		out, err := sess.Output(ctx, cmd)
		fmt.Printf("%s: %q %v\n", cmd, out, err)
	}
	// Output:
	// host key: ok <nil>
	// auth: success <nil>
	// uptime: "10:17:03 up 3 days, load average: 0.00\n" <nil>
	// whoami: "alice\n" <nil>
}

// KnownHostsLine gives one known_hosts line per host key, for
// "[127.0.0.1]:port"; written to a file, it makes a client's host key
// check pass for this server and no other.
func ExampleServer_KnownHostsLine() {
	srv, err := sshtest.Start(sshtest.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	host := fmt.Sprintf("[127.0.0.1]:%d", srv.Port())
	for line := range strings.Lines(srv.KnownHostsLine()) {
		fields := strings.Fields(line)
		fmt.Println(fields[0] == host, fields[1])
	}
	// Output:
	// true ssh-ed25519
	// true ecdsa-sha2-nistp256
	// true ssh-rsa
}

// A fault makes every connection misbehave; here the server stops sending
// after its version line, and the client's Connect ends with its context.
func ExampleConfig_fault() {
	srv, err := sshtest.Start(sshtest.Config{
		Fault:      sshtest.FaultStallAfterBytes,
		StallAfter: len("SSH-2.0-libssh-go-testserver\r\n"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	sess := libssh.NewSession()
	defer sess.Disconnect()
	_ = sess.SetOption(libssh.Hostname(srv.Host()), libssh.Port(srv.Port()), libssh.ProcessConfig(false))
	err = sess.Connect(ctx)
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	// Output: true
}

// A demo or test starts a server with one user, connects, and runs a
// built-in command.
func ExampleStart() {
	srv, err := sshtest.Start(sshtest.Config{
		Users: map[string]sshtest.User{"demo": {Password: "demo"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	hostKeys := srv.HostKeys()
	client, err := ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{
		User: "demo",
		Auth: []ssh.AuthMethod{ssh.Password("demo")},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			for _, k := range hostKeys {
				if string(k.Marshal()) == string(key.Marshal()) {
					return nil
				}
			}
			return fmt.Errorf("unknown host key %s", ssh.FingerprintSHA256(key))
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	sess, err := client.NewSession()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sess.Close()
	out, err := sess.Output("echo hello from testserver")
	fmt.Printf("%q %v\n", out, err)
	fmt.Println(srv.AuthLog()[1].Method, srv.AuthLog()[1].Success)
	// Output:
	// "hello from testserver\n" <nil>
	// password true
}
