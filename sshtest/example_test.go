package sshtest_test

import (
	"fmt"
	"net"

	"github.com/libssh-go/libssh/sshtest"
	"golang.org/x/crypto/ssh"
)

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
