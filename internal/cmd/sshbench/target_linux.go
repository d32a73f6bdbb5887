package main

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// target is the sshd every client talks to, and how to log in there.
type target struct {
	host       string
	port       int
	user       string
	identity   string // unencrypted private key file
	knownHosts string // known_hosts file with the server's keys

	hostKeyCallback gossh.HostKeyCallback
	remote          net.Addr

	// overhead is the connect+auth+exit time of an OpenSSH process on this
	// target, subtracted from the wall times of the file rows (-sftp).
	overhead time.Duration
}

func newTarget(host string, port int, user, identity, knownHosts string) (*target, error) {
	cb, err := knownhosts.New(knownHosts)
	if err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	remote, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	return &target{host: host, port: port, user: user, identity: identity, knownHosts: knownHosts,
		hostKeyCallback: cb, remote: remote}, nil
}

// addr is host:port.
func (t *target) addr() string { return net.JoinHostPort(t.host, strconv.Itoa(t.port)) }

// checkHostKey verifies a server key against the known_hosts file, the check
// an application makes before it accepts the key.
func (t *target) checkHostKey(key gossh.PublicKey) error {
	return t.hostKeyCallback(t.addr(), t.remote, key)
}

// negotiation is what a client agreed on with the server when left to its
// defaults; "" where it is not known.
type negotiation struct{ kex, hostKey, cipher string }

func (n negotiation) String() string {
	f := []string{n.kex, n.hostKey, n.cipher}
	for i := range f {
		if f[i] == "" {
			f[i] = "?"
		}
	}
	return strings.Join(f, ", ")
}

// cipherSpec is one throughput row's algorithm choice; the zero value lets
// each client use its own defaults.
type cipherSpec struct {
	cipher string
	mac    string // "" for AEAD ciphers, whose MAC is implicit
}

// label names the row.
func (c cipherSpec) label() string {
	switch {
	case c.cipher == "":
		return "default"
	case c.mac != "":
		return c.cipher + " + " + c.mac
	}
	return c.cipher
}

// benchCiphers is the list of throughput rows, per direction.
func benchCiphers() []cipherSpec {
	return []cipherSpec{
		{},
		{cipher: "aes128-gcm@openssh.com"},
		{cipher: "aes256-gcm@openssh.com"},
		{cipher: "chacha20-poly1305@openssh.com"},
		{cipher: "aes128-ctr", mac: "hmac-sha2-256-etm@openssh.com"},
	}
}

// The remote commands. head and wc are POSIX, so -host works with any
// Unix-like server.
func downloadCommand(n int64) string { return "head -c " + strconv.FormatInt(n, 10) + " /dev/zero" }

const (
	uploadCommand = "wc -c"
	// idleCommand prints a line once the session runs, then idles until
	// its stdin ends, that is until the client closes the channel (a
	// "sleep" would outlive the session: sshd does not kill a command
	// without a pty). The RSS measurements wait for the line, and keep
	// stdin open.
	idleCommand = "echo ready; exec cat >/dev/null"
	readyLine   = "ready"
)

// checkCount compares a transferred byte count with the one wanted.
func checkCount(what string, got, want int64) error {
	if got != want {
		return fmt.Errorf("%s: %d bytes, want %d", what, got, want)
	}
	return nil
}

// checkUpload reads the count that "wc -c" printed.
func checkUpload(out []byte, want int64) error {
	got, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return fmt.Errorf("upload: wc -c printed %q", out)
	}
	return checkCount("upload: server counted", got, want)
}

// countingWriter counts and drops what is written. It has no ReadFrom, so
// io.Copy into it behaves as into a file or a hash: the source's WriteTo if
// it has one, else a 32 KiB buffer.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// pattern is an io.Reader of a fixed number of bytes of a repeating,
// non-zero pattern. It has no WriteTo, so io.Copy from it moves 32 KiB per
// write, as it does from a file or a pipe.
type pattern struct {
	left  int64
	off   int
	block []byte
}

func newPattern(n int64) *pattern {
	block := make([]byte, 64<<10+13) // not a power of two, so writes do not line up with it
	for i := range block {
		block[i] = byte(i*7 + 1)
	}
	return &pattern{left: n, block: block}
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n := 0
	for n < len(b) {
		c := copy(b[n:], p.block[p.off:])
		n += c
		p.off = (p.off + c) % len(p.block)
	}
	p.left -= int64(n)
	return n, nil
}

// readUntilLine reads r until a line equal to want arrived, for at most
// timeout. On timeout its reading goroutine stays blocked until r ends,
// which the caller brings about by ending the process or the session.
func readUntilLine(r io.Reader, want string, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() {
		var seen []byte
		buf := make([]byte, 256)
		for {
			n, err := r.Read(buf)
			seen = append(seen, buf[:n]...)
			if strings.Contains("\n"+string(seen), "\n"+want+"\n") {
				done <- nil
				return
			}
			if err != nil {
				done <- fmt.Errorf("waiting for %q: %w (got %q)", want, err, seen)
				return
			}
		}
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("no %q line within %v", want, timeout)
	}
}
