package sftp_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/libssh-go/libssh/sftp"
	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
)

// demoSession starts an in-process server whose sftp subsystem serves dir
// and returns a logged-in Session; a program would Connect to a real host
// and verify its key instead.
func demoSession(dir string) (*ssh.Session, func(), error) {
	srv, err := sshtest.Start(sshtest.Config{
		Users:      map[string]sshtest.User{"demo": {Password: "demo"}},
		Subsystems: map[string]func(sshtest.ExecContext) int{"sftp": sshtest.SFTPHandler(sshtest.SFTPOptions{Dir: dir})},
	})
	if err != nil {
		return nil, nil, err
	}
	s := ssh.NewSession()
	ctx := context.Background()
	err = s.SetOption(ssh.ProcessConfig(false), ssh.Hostname(srv.Host()), ssh.Port(srv.Port()),
		ssh.User("demo"), ssh.SSHDir(dir))
	if err == nil {
		err = s.Connect(ctx)
	}
	if err == nil {
		err = s.AcceptHostKey() // demo only: a real program checks IsKnownServer
	}
	if err == nil {
		_, err = s.UserauthPassword(ctx, "", "demo")
	}
	stop := func() { _ = s.Disconnect(); _ = srv.Close() }
	if err != nil {
		stop()
		return nil, nil, err
	}
	return s, stop, nil
}

// New starts SFTP on a logged-in Session; files then read and write like
// os.Files.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "sftp-example")
	defer os.RemoveAll(dir)
	s, stop, err := demoSession(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := sftp.New(ctx, s)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	remote := filepath.Join(dir, "hello.txt")
	f, err := c.Create(ctx, remote)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = f.ReadFrom(strings.NewReader("hello over sftp\n")) // io.Copy(f, r) does the same
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := c.Metadata(ctx, remote)
	fmt.Println(m.Name(), m.Size(), m.Mode().IsRegular(), err)
	_, err = c.Metadata(ctx, filepath.Join(dir, "missing"))
	fmt.Println(errors.Is(err, fs.ErrNotExist))
	// Output:
	// hello.txt 16 true <nil>
	// true
}

// FS makes the remote tree an fs.FS: fs.WalkDir, fs.Glob, http.FS and
// template.ParseFS work on it.
func ExampleClient_FS() {
	dir, _ := os.MkdirTemp("", "sftp-example")
	defer os.RemoveAll(dir)
	_ = os.MkdirAll(filepath.Join(dir, "site", "css"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "site", "index.html"), []byte("<h1>hi</h1>"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "site", "css", "main.css"), []byte("h1{}"), 0o644)
	s, stop, err := demoSession(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	c, err := sftp.New(context.Background(), s, sftp.Timeout(30*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	// FS is rooted at the server's "/".
	site, _ := fs.Sub(c.FS(), strings.TrimPrefix(filepath.ToSlash(filepath.Join(dir, "site")), "/"))
	err = fs.WalkDir(site, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fmt.Println(p, d.IsDir())
		return nil
	})
	fmt.Println(err)
	// Output:
	// . true
	// css true
	// css/main.css false
	// index.html false
	// <nil>
}
