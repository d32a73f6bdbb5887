package ssh_test

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
)

// The libssh flow: connect, check the host key, authenticate step by step,
// run a command. The in-process test server stands in for a real host.
func Example() {
	srv, err := sshtest.Start(sshtest.Config{Users: map[string]sshtest.User{
		"alice": {KeyboardInteractive: []sshtest.Round{{Prompts: []string{"Password: "}, Want: []string{"s3cret"}}}},
	}})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sess := ssh.NewSession()
	defer sess.Disconnect()
	if err := sess.SetOption(ssh.Hostname(srv.Host()), ssh.Port(srv.Port()), ssh.User("alice")); err != nil {
		panic(err)
	}
	if err := sess.Connect(ctx); err != nil {
		panic(err)
	}
	// A real program checks the key with IsKnownServer or shows
	// key.Fingerprint() to the user before accepting it.
	if err := sess.AcceptHostKey(); err != nil {
		panic(err)
	}

	status, err := sess.UserauthKeyboardInteractive(ctx, "", "")
	for err == nil && status == ssh.AuthInfo {
		info, _ := sess.UserauthKeyboardInteractiveInfo()
		answers := make([]string, len(info.Prompts))
		for i := range answers {
			answers[i] = "s3cret" // prompt the user here
		}
		_ = sess.UserauthKeyboardInteractiveSetAnswers(answers)
		status, err = sess.UserauthKeyboardInteractive(ctx, "", "")
	}
	fmt.Println("auth:", status, err)

	ch, _ := sess.NewChannel()
	defer ch.Close()
	_ = ch.OpenSession(ctx)
	_ = ch.RequestExec(ctx, "whoami")
	out, _ := io.ReadAll(ch.Stdout())
	code, _ := ch.ExitStatus(ctx)
	fmt.Printf("%s exit %d\n", out, code)
	// Output:
	// auth: success <nil>
	// alice
	//  exit 0
}

// UserauthPublicKeyAuto asks the server about each key before decrypting
// it; the callback is asked for a passphrase only for a key it accepts.
func ExampleSession_UserauthPublicKeyAuto() {
	sess := ssh.NewSession()
	_ = sess.SetOption(ssh.Hostname("example.org"))
	sess.SetAuthCallback(func(prompt string, echo, verify bool, identity string) (string, error) {
		return "passphrase for " + identity, nil // prompt.AuthCallback reads the terminal
	})
	// After Connect and the host key check:
	//   status, err := sess.UserauthPublicKeyAuto(ctx, "", "")
	fmt.Println(sess.Options().Host)
	// Output: example.org
}

// Options are validated when set; a refused value names the option.
func ExampleSession_SetOption() {
	sess := ssh.NewSession()
	err := sess.SetOption(ssh.Port(0))
	fmt.Println(err)
	err = sess.SetOption(ssh.Hostname("bob@build.example.org"), ssh.CiphersCS("aes256-gcm@openssh.com"))
	o := sess.Options()
	fmt.Println(err, o.User, o.Host, o.CiphersCS)
	// Output:
	// ssh: invalid value "0" for option Port: must be 1..65535
	// <nil> bob build.example.org [aes256-gcm@openssh.com]
}
