package sftp

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
)

// TestTransferFailedWrite: the server fails one WRITE in the middle of a Put. The error names
// the lowest offset that did not arrive and unwraps to the server's status; without Resume the
// remote temporary file is gone, with Resume the partial file is exactly the bytes below that
// offset, and a Resume on a good server completes it.
func TestTransferFailedWrite(t *testing.T) {
	lowBackoff(t)
	const size = 3 << 20
	for _, resume := range []bool{false, true} {
		name := "plain"
		if resume {
			name = "resume"
		}
		t.Run(name, func(t *testing.T) {
			c, _, _ := xferClient(t, xferServerConfig(sshtest.SFTPHandler(sshtest.SFTPOptions{FailWrite: 5})))
			ctx := xferCtx(t)
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			want := randomFile(t, src, size, 41)
			dst := filepath.Join(dir, "dst")
			var opts []TransferOption
			if resume {
				opts = append(opts, Resume())
			}
			err := c.Put(ctx, src, dst, append(opts, Concurrency(4))...)
			var te *TransferError
			var se *StatusError
			if !errors.As(err, &te) || !errors.As(err, &se) || se.Code != StatusFailure || te.Offset < 0 || te.Offset >= size || te.Op != "put" || te.Path != src {
				t.Fatalf("Put with a failing write: %v", err)
			}
			_, wr := c.RequestSizes()
			if te.Offset%int64(min(wr, transferChunk)) != 0 {
				t.Errorf("failed offset %d is not at a request boundary", te.Offset)
			}
			if _, err := os.Stat(dst); err == nil {
				t.Fatal("target exists")
			}
			if !resume {
				noTemps(t, dir)
				return
			}
			part := filepath.Join(dir, ".dst.part")
			got, err := os.ReadFile(part)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(got)) != te.Offset || string(got) != string(want[:te.Offset]) {
				t.Fatalf("partial file: %d bytes, want the first %d of the source", len(got), te.Offset)
			}
			good, _, _ := xferClient(t, xferServerConfig(xferHandler()))
			if err := good.Put(ctx, src, dst, Resume()); err != nil {
				t.Fatal(err)
			}
			sameFile(t, dst, want)
			noTemps(t, dir)
		})
	}
}

// TestTransferSilentServer: a server that stops answering mid-transfer holds Get and Put no
// longer than their ctx (plus the second allowed for removing the temporary file).
func TestTransferSilentServer(t *testing.T) {
	c, _, _ := xferClient(t, xferServerConfig(sshtest.SFTPHandler(sshtest.SFTPOptions{StopAfter: 12})))
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	randomFile(t, src, 4<<20, 42)
	for _, op := range []string{"get", "put"} {
		ctx, cancel := context.WithTimeout(xferCtx(t), 500*time.Millisecond)
		start := time.Now()
		var err error
		if op == "get" {
			err = c.Get(ctx, src, filepath.Join(dir, "dst"))
		} else {
			err = c.Put(ctx, src, filepath.Join(dir, "dst"))
		}
		cancel()
		var te *TransferError
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &te) {
			t.Fatalf("%s from a silent server: %v", op, err)
		}
		if d := time.Since(start); d > 500*time.Millisecond+cleanupGrace+2*time.Second {
			t.Errorf("%s took %v", op, d)
		}
		if _, err := os.Stat(filepath.Join(dir, "dst")); err == nil {
			t.Fatalf("%s: target exists", op)
		}
	}
	// Get's temporary file is local and is removed whatever the server does.
	noTemps(t, dir)
}

// TestTransferNeverClosed: a server that never answers CLOSE. Put must know its file is
// closed before presenting it, so it fails with ctx; Get has all the data and finishes after
// at most sourceCloseWait.
func TestTransferNeverClosed(t *testing.T) {
	c, _, _ := xferClient(t, xferServerConfig(sshtest.SFTPHandler(sshtest.SFTPOptions{NeverClose: true})))
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	want := randomFile(t, src, 300<<10, 43)

	ctx, cancel := context.WithTimeout(xferCtx(t), 700*time.Millisecond)
	defer cancel()
	err := c.Put(ctx, src, filepath.Join(dir, "put"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put to a server that never closes: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "put")); err == nil {
		t.Fatal("Put's target exists")
	}

	start := time.Now()
	if err := c.Get(xferCtx(t), src, filepath.Join(dir, "got")); err != nil {
		t.Fatalf("Get from a server that never closes: %v", err)
	}
	if d := time.Since(start); d > sourceCloseWait+2*time.Second {
		t.Errorf("Get took %v", d)
	}
	sameFile(t, filepath.Join(dir, "got"), want)
}

// TestTransferShortReads: a server that answers every READ with less than asked (here 1000
// bytes) is read to the end.
func TestTransferShortReads(t *testing.T) {
	c, _, _ := xferClient(t, xferServerConfig(sshtest.SFTPHandler(sshtest.SFTPOptions{ShortReads: 1000})))
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	want := randomFile(t, src, 600_000, 44)
	if err := c.Get(xferCtx(t), src, filepath.Join(dir, "got")); err != nil {
		t.Fatal(err)
	}
	sameFile(t, filepath.Join(dir, "got"), want)
}

// TestTransferProtocolViolation: a malformed answer in the middle of a Get ends the Client
// with ErrProtocol; the error says so and no partial file is left.
func TestTransferProtocolViolation(t *testing.T) {
	c, _, _ := xferClient(t, xferServerConfig(sshtest.SFTPHandler(sshtest.SFTPOptions{Malformed: 8})))
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	randomFile(t, src, 4<<20, 45)
	err := c.Get(xferCtx(t), src, filepath.Join(dir, "got"))
	var te *TransferError
	if !errors.Is(err, ErrProtocol) || !errors.As(err, &te) {
		t.Fatalf("Get with a malformed answer: %v", err)
	}
	noTemps(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "got")); err == nil {
		t.Fatal("target exists")
	}
	// The Client is gone; a new transfer says why at once.
	if err := c.Put(xferCtx(t), src, filepath.Join(dir, "x")); !errors.Is(err, ErrProtocol) {
		t.Fatalf("Put after the violation: %v", err)
	}
}

// TestTransferTreeHostileNames: a server listing names that would escape the destination tree
// stops a Recursive Get before anything is written outside it (the Client refuses such a
// listing as ErrProtocol; the transfer's own check, ErrUnsafeName, stands behind it).
func TestTransferTreeHostileNames(t *testing.T) {
	for _, name := range []string{"../escape", "a/b", "/etc/x", ""} {
		c, _, _ := xferClient(t, xferServerConfig(sshtest.SFTPHandler(sshtest.SFTPOptions{DirNames: []string{name}})))
		dir := t.TempDir()
		src := filepath.Join(dir, "src")
		if err := os.Mkdir(src, 0o755); err != nil {
			t.Fatal(err)
		}
		err := c.Get(xferCtx(t), src, filepath.Join(dir, "dst", "deeper"), Recursive())
		var te *TransferError
		if !errors.As(err, &te) || !(errors.Is(err, ErrProtocol) || errors.Is(err, ErrUnsafeName)) {
			t.Fatalf("listing %q: %v", name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "dst", "escape")); err == nil {
			t.Fatalf("listing %q: a file escaped the tree", name)
		}
	}
}
