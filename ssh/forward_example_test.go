package ssh_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
)

// forwardExample logs in to an in-process server standing in for a real
// host, and starts a web server on 127.0.0.1 for the examples to reach.
func forwardExample() (sess *ssh.Session, web string, cleanup func()) {
	srv, err := sshtest.Start(sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.URL.Path)
	})}
	served := make(chan struct{})
	go func() { defer close(served); _ = hs.Serve(ln) }()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sess = ssh.NewSession()
	if err := sess.SetOption(ssh.ProcessConfig(false), ssh.Hostname(srv.Host()), ssh.Port(srv.Port()), ssh.User("alice")); err != nil {
		panic(err)
	}
	if err := sess.Connect(ctx); err != nil {
		panic(err)
	}
	_ = sess.AcceptHostKey() // after checking it, in a real program
	if st, err := sess.UserauthPassword(ctx, "", "pw"); st != ssh.AuthSuccess {
		panic(fmt.Sprint(st, err))
	}
	return sess, ln.Addr().String(), func() {
		_ = sess.Disconnect()
		_ = hs.Close()
		<-served
		_ = srv.Close()
	}
}

// Any Go client library that takes a dial function runs through the
// server: here net/http.
func ExampleSession_DialContext() {
	sess, web, cleanup := forwardExample()
	defer cleanup()

	client := &http.Client{Transport: &http.Transport{DialContext: sess.DialContext, DisableKeepAlives: true}}
	resp, err := client.Get("http://" + web + "/via-ssh")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	// Output: hello from /via-ssh
}

// libssh's remote forwarding: the server listens, the client accepts.
func ExampleSession_ListenForward() {
	sess, _, cleanup := forwardExample()
	defer cleanup()
	ctx := context.Background()

	port, err := sess.ListenForward(ctx, "127.0.0.1", 0) // the server picks the port
	if err != nil {
		panic(err)
	}
	// Someone connects to the server's port (the example server runs on
	// this machine).
	go func() {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			_, _ = io.WriteString(c, "knock knock")
			_ = c.Close()
		}
	}()
	dest, ch, err := sess.AcceptForward(ctx)
	if err != nil {
		panic(err)
	}
	defer ch.Close()
	msg, _ := io.ReadAll(ch)
	fmt.Println(dest == port, string(msg))
	// Output: true knock knock
}

// ssh -L 127.0.0.1:PORT:web-host:web-port, with PORT chosen free.
func ExampleSession_LocalForward() {
	sess, web, cleanup := forwardExample()
	defer cleanup()

	host, portStr, _ := net.SplitHostPort(web)
	port, _ := strconv.Atoi(portStr)
	fw, err := sess.LocalForward(context.Background(), ssh.Forward{ListenHost: "127.0.0.1", ConnectHost: host, ConnectPort: port})
	if err != nil {
		panic(err)
	}
	defer fw.Close()

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + fw.Addr().String() + "/through-L")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	// Output: hello from /through-L
}
