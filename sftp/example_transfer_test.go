package sftp_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/libssh-go/libssh/sftp"
	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
)

// exampleClient starts an in-process server with an sftp subsystem, logs in and opens an sftp
// Client on the session. A real program connects to its host the same way and checks the host
// key (IsKnownServer) instead of accepting it.
func exampleClient(ctx context.Context) (*sftp.Client, func(), error) {
	srv, err := sshtest.Start(sshtest.Config{
		Users:      map[string]sshtest.User{"demo": {Password: "demo"}},
		Subsystems: map[string]func(sshtest.ExecContext) int{"sftp": sshtest.SFTPHandler(sshtest.SFTPOptions{})},
	})
	if err != nil {
		return nil, nil, err
	}
	sess := ssh.NewSession()
	cleanup := func() { _ = sess.Disconnect(); _ = srv.Close() }
	err = sess.SetOption(ssh.ProcessConfig(false), ssh.Hostname(srv.Host()), ssh.Port(srv.Port()), ssh.User("demo"))
	if err == nil {
		err = sess.Connect(ctx)
	}
	if err == nil {
		err = sess.AcceptHostKey()
	}
	if err == nil {
		_, err = sess.UserauthPassword(ctx, "", "demo")
	}
	var c *sftp.Client
	if err == nil {
		c, err = sftp.New(ctx, sess)
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return c, func() { _ = c.Close(); cleanup() }, nil
}

// Get downloads a file; a progress callback can draw a bar. The file appears under its name
// only once complete.
func ExampleClient_Get() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, done, err := exampleClient(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()

	// The test server serves this machine's files, so the "remote" file is made here.
	dir, _ := os.MkdirTemp("", "sftp-example-")
	defer os.RemoveAll(dir)
	remote := filepath.Join(dir, "report.csv")
	_ = os.WriteFile(remote, []byte("id,name\n1,alice\n2,bob\n"), 0o644)

	local := filepath.Join(dir, "copy.csv")
	err = c.Get(ctx, remote, local, sftp.PreserveTimes(), sftp.Progress(func(done, total int64) {
		if done == total {
			fmt.Printf("%d of %d bytes\n", done, total)
		}
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	data, _ := os.ReadFile(local)
	fmt.Printf("%q\n", data)
	// Output:
	// 22 of 22 bytes
	// "id,name\n1,alice\n2,bob\n"
}

// Put uploads a whole tree with Recursive; Resume would continue an interrupted upload.
func ExampleClient_Put() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, done, err := exampleClient(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()

	dir, _ := os.MkdirTemp("", "sftp-example-")
	defer os.RemoveAll(dir)
	site := filepath.Join(dir, "site")
	_ = os.MkdirAll(filepath.Join(site, "css"), 0o755)
	_ = os.WriteFile(filepath.Join(site, "index.html"), []byte("<h1>hi</h1>\n"), 0o644)
	_ = os.WriteFile(filepath.Join(site, "css", "main.css"), []byte("h1{}\n"), 0o644)

	remote := filepath.Join(dir, "www")
	if err := c.Put(ctx, site, remote, sftp.Recursive(), sftp.PreserveMode()); err != nil {
		fmt.Println(err)
		return
	}
	entries, err := c.ReadDir(ctx, remote)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range entries {
		fmt.Println(e.Name(), e.IsDir())
	}
	// Unordered output:
	// css true
	// index.html false
}
