package sshclient_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/libssh-go/libssh/sshtest"
	"github.com/libssh-go/libssh/sshtest/sshclient"
	gossh "golang.org/x/crypto/ssh"
)

// A test of a function that takes an *ssh.Session: the server's Exec
// handler literal plays the remote host, Connect logs in with the user's
// password, and both end at t.Cleanup. (The example is compiled, not run:
// it needs the test's t.)
func ExampleConnect() {
	var t *testing.T // the *testing.T of func TestUptime(t *testing.T)

	srv := sshtest.New(t, sshtest.Config{
		Users: map[string]sshtest.User{"alice": {Password: "pw"}},
		Exec: func(ctx sshtest.ExecContext) int {
			fmt.Fprintln(ctx.Stdout, "10:17:03 up 3 days")
			return 0
		},
	})
	sess := sshclient.Connect(t, srv, "alice")

	got, err := Uptime(t.Context(), sess) // the function under test
	if err != nil || !strings.Contains(got, "up 3 days") {
		t.Errorf("Uptime = %q, %v", got, err)
	}
}

// ConnectKey logs in with a key held in memory: AddKeyUser authorizes its
// public half on the server.
func ExampleConnectKey() {
	var t *testing.T // the test's t

	key := sshtest.NewSigner(t, gossh.KeyAlgoED25519)
	var cfg sshtest.Config
	cfg.AddKeyUser("deploy", key.PublicKey())
	srv := sshtest.New(t, cfg)

	sess := sshclient.ConnectKey(t, srv, "deploy", key)
	if out, err := sess.Output(t.Context(), "whoami"); err != nil || string(out) != "deploy\n" {
		t.Errorf("whoami = %q, %v", out, err)
	}
}
