package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// xDial connects and authenticates with raw x/crypto/ssh: ssh.Dial with the
// cipher and MAC lists pinned in the ClientConfig. ctx bounds the whole
// dial and handshake by closing the connection (ssh.Dial has no ctx).
func (t *target) xDial(ctx context.Context, spec cipherSpec) (*gossh.Client, error) {
	pem, err := os.ReadFile(t.identity)
	if err != nil {
		return nil, err
	}
	signer, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		return nil, err
	}
	cfg := &gossh.ClientConfig{
		User:            t.user,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: t.hostKeyCallback,
		Timeout:         30 * time.Second,
	}
	if spec.cipher != "" {
		cfg.Ciphers = []string{spec.cipher}
	}
	if spec.mac != "" {
		cfg.MACs = []string{spec.mac}
	}
	type result struct {
		c   *gossh.Client
		err error
	}
	out := make(chan result, 1)
	go func() {
		c, err := gossh.Dial("tcp", t.addr(), cfg)
		out <- result{c, err}
	}()
	select {
	case r := <-out:
		return r.c, r.err
	case <-ctx.Done():
		go func() {
			if r := <-out; r.c != nil {
				_ = r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// xNegotiated reports the algorithms x/crypto negotiated on c.
func xNegotiated(c *gossh.Client) negotiation {
	if m, ok := c.Conn.(gossh.AlgorithmsConnMetadata); ok {
		a := m.Algorithms()
		return negotiation{kex: a.KeyExchange, hostKey: a.HostKey, cipher: a.Write.Cipher}
	}
	return negotiation{}
}

// xTransfer is an authenticated x/crypto connection, for the throughput rows.
type xTransfer struct{ c *gossh.Client }

// xSession opens a session; if ctx ends first, the connection is closed,
// which ends every copy in progress.
func (x xTransfer) session(ctx context.Context) (*gossh.Session, func(), error) {
	s, err := x.c.NewSession()
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = x.c.Close() })
	return s, func() { stop(); _ = s.Close() }, nil
}

// download reads the command's stdout with StdoutPipe and io.Copy, the
// usual x/crypto idiom.
func (x xTransfer) download(ctx context.Context, n int64) (time.Duration, error) {
	start := time.Now()
	s, done, err := x.session(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	stdout, err := s.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := s.Start(downloadCommand(n)); err != nil {
		return 0, err
	}
	var w countingWriter
	if _, err := io.Copy(&w, stdout); err != nil {
		return 0, err
	}
	if err := s.Wait(); err != nil {
		return 0, err
	}
	d := time.Since(start)
	return d, checkCount("download", w.n, n)
}

// upload writes with StdinPipe and io.Copy, closes stdin and waits.
func (x xTransfer) upload(ctx context.Context, n int64) (time.Duration, error) {
	start := time.Now()
	s, done, err := x.session(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	var out bytes.Buffer
	s.Stdout = &out
	stdin, err := s.StdinPipe()
	if err != nil {
		return 0, err
	}
	if err := s.Start(uploadCommand); err != nil {
		return 0, err
	}
	if _, err := io.Copy(stdin, newPattern(n)); err != nil {
		return 0, err
	}
	if err := stdin.Close(); err != nil {
		return 0, err
	}
	if err := s.Wait(); err != nil {
		return 0, err
	}
	d := time.Since(start)
	return d, checkUpload(out.Bytes(), n)
}

func (x xTransfer) Close() error { return x.c.Close() }

// xConnectLatency is one dial+auth+Run("true")+Close.
func (t *target) xConnectLatency(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	c, err := t.xDial(ctx, cipherSpec{})
	if err != nil {
		return 0, err
	}
	_, err = xChannelLatency(c)
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return time.Since(start), err
}

// xChannelLatency is one NewSession+Run("true")+Close.
func xChannelLatency(c *gossh.Client) (time.Duration, error) {
	start := time.Now()
	s, err := c.NewSession()
	if err != nil {
		return 0, err
	}
	err = s.Run("true")
	_ = s.Close() // io.EOF after Run: the server closed it already
	return time.Since(start), err
}
