package scp_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"time"

	"github.com/libssh-go/libssh/scp"
	"github.com/libssh-go/libssh/ssh"
)

// connect is the usual libssh flow; see the ssh package's examples.
func connect(ctx context.Context) *ssh.Session {
	sess := ssh.NewSession()
	if err := sess.SetOption(ssh.Hostname("admin@router.example")); err != nil {
		log.Fatal(err)
	}
	if err := sess.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	if st, err := sess.IsKnownServer(); st != ssh.KnownHostsOK {
		log.Fatalf("host key not trusted: %v %v", st, err)
	}
	if st, err := sess.UserauthPublicKeyAuto(ctx, "", ""); st != ssh.AuthSuccess {
		log.Fatalf("auth: %v %v", st, err)
	}
	return sess
}

// Get fetches a file from a server that has no sftp subsystem, drawing a
// progress line, and tells a missing file from other failures.
func ExampleGet() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sess := connect(ctx)
	defer sess.Disconnect()

	err := scp.Get(ctx, sess, "/var/log/messages", "messages.txt",
		scp.Progress(func(done, total int64) { fmt.Printf("\r%d/%d bytes", done, total) }))
	var se *scp.Error
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Println("no such remote file")
	case errors.As(err, &se) && se.Message != "":
		fmt.Println("the server said:", se.Message)
	case err != nil:
		log.Fatal(err)
	}
}

// Put uploads a directory tree with its modification times (scp -r -p).
func ExamplePut() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sess := connect(ctx)
	defer sess.Disconnect()

	if err := scp.Put(ctx, sess, "site/", "/www/site", scp.Recursive(), scp.PreserveTimes()); err != nil {
		log.Fatal(err)
	}
}
