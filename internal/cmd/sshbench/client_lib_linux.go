package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/libssh-go/libssh/ssh"
)

// libConnect connects and authenticates with this library the way its
// documentation shows: options, Connect, check the server's key and accept
// it, public-key authentication with the key file.
func (t *target) libConnect(ctx context.Context, spec cipherSpec) (*ssh.Session, error) {
	sess := ssh.NewSession()
	opts := []ssh.Option{
		ssh.Hostname(t.host), ssh.Port(t.port), ssh.User(t.user),
		ssh.KnownHosts(t.knownHosts),
		// A stray ~/.ssh/config must not change the algorithms being measured.
		ssh.ProcessConfig(false),
	}
	if spec.cipher != "" {
		opts = append(opts, ssh.CiphersCS(spec.cipher))
	}
	if spec.mac != "" {
		opts = append(opts, ssh.HmacCS(spec.mac))
	}
	if err := sess.SetOption(opts...); err != nil {
		return nil, err
	}
	if err := t.libLogin(ctx, sess); err != nil {
		_ = sess.Disconnect()
		return nil, err
	}
	return sess, nil
}

func (t *target) libLogin(ctx context.Context, sess *ssh.Session) error {
	if err := sess.Connect(ctx); err != nil {
		return err
	}
	key, err := sess.ServerPublicKey()
	if err != nil {
		return err
	}
	if err := t.checkHostKey(key.PublicKey()); err != nil {
		return err
	}
	if err := sess.AcceptHostKey(); err != nil {
		return err
	}
	id, err := ssh.ParsePrivateKeyFile(t.identity, "")
	if err != nil {
		return err
	}
	status, err := sess.UserauthPublicKey(ctx, "", id)
	if err != nil {
		return err
	}
	if status != ssh.AuthSuccess {
		return fmt.Errorf("public-key authentication: %v", status)
	}
	return nil
}

// libExec opens a session channel and starts command on it. If ctx ends
// before the caller closes the channel, the channel is closed, which ends
// any copy in progress.
func libExec(ctx context.Context, sess *ssh.Session, command string) (*ssh.Channel, func(), error) {
	ch, err := sess.NewChannel()
	if err != nil {
		return nil, nil, err
	}
	if err := ch.OpenSession(ctx); err != nil {
		_ = ch.Close()
		return nil, nil, err
	}
	if err := ch.RequestExec(ctx, command); err != nil {
		_ = ch.Close()
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = ch.Close() })
	return ch, func() { stop(); _ = ch.Close() }, nil
}

// libExit waits for the exit status and wants 0.
func libExit(ctx context.Context, ch *ssh.Channel) error {
	code, err := ch.ExitStatus(ctx)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("exit status %d", code)
	}
	return nil
}

// libTransfer is an authenticated connection of this library, for the
// throughput rows.
type libTransfer struct{ sess *ssh.Session }

// download copies the command's stdout with io.Copy from ch.Stdout(), the
// way the package documentation reads a command's output.
func (l libTransfer) download(ctx context.Context, n int64) (time.Duration, error) {
	start := time.Now()
	ch, done, err := libExec(ctx, l.sess, downloadCommand(n))
	if err != nil {
		return 0, err
	}
	defer done()
	var w countingWriter
	if _, err := io.Copy(&w, ch.Stdout()); err != nil {
		return 0, err
	}
	if err := libExit(ctx, ch); err != nil {
		return 0, err
	}
	d := time.Since(start)
	return d, checkCount("download", w.n, n)
}

// upload writes with io.Copy into the channel (its Write), sends EOF and
// reads what wc printed.
func (l libTransfer) upload(ctx context.Context, n int64) (time.Duration, error) {
	start := time.Now()
	ch, done, err := libExec(ctx, l.sess, uploadCommand)
	if err != nil {
		return 0, err
	}
	defer done()
	if _, err := io.Copy(ch, newPattern(n)); err != nil {
		return 0, err
	}
	if err := ch.SendEOF(); err != nil {
		return 0, err
	}
	out, err := io.ReadAll(ch.Stdout())
	if err != nil {
		return 0, err
	}
	if err := libExit(ctx, ch); err != nil {
		return 0, err
	}
	d := time.Since(start)
	return d, checkUpload(out, n)
}

func (l libTransfer) Close() error { return l.sess.Disconnect() }

// libConnectLatency is one connect+auth+exec "true"+disconnect.
func (t *target) libConnectLatency(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	sess, err := t.libConnect(ctx, cipherSpec{})
	if err != nil {
		return 0, err
	}
	ch, done, err := libExec(ctx, sess, "true")
	if err == nil {
		err = libExit(ctx, ch)
		done()
	}
	if derr := sess.Disconnect(); err == nil {
		err = derr
	}
	return time.Since(start), err
}

// libChannelLatency is one channel open+exec "true"+exit status+close on
// an authenticated connection.
func libChannelLatency(ctx context.Context, sess *ssh.Session) (time.Duration, error) {
	start := time.Now()
	ch, done, err := libExec(ctx, sess, "true")
	if err != nil {
		return 0, err
	}
	err = libExit(ctx, ch)
	done()
	return time.Since(start), err
}
