package sftp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
)

// protocolBroken checks that err and every later call report ErrProtocol.
func protocolBroken(t *testing.T, c *Client, err error) {
	t.Helper()
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("want ErrProtocol, got %v", err)
	}
	if _, err := c.Metadata(testCtx(t), "/"); !errors.Is(err, ErrProtocol) {
		t.Fatalf("later call: %v", err)
	}
	if !errors.Is(c.Err(), ErrProtocol) {
		t.Fatalf("Err: %v", c.Err())
	}
}

func TestFailedWriteReportsFirstFailedOffset(t *testing.T) {
	c, dir := client(t, sshtest.SFTPOptions{FailWrite: 3})
	ctx := testCtx(t)
	f, err := c.Open(ctx, filepath.Join(dir, "w"), OpenReadWrite|OpenCreate|OpenTruncate, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := randomBytes(10*32<<10, 5)
	n, err := f.WriteAt(data, 0)
	var se *StatusError
	if n != 2*32<<10 || !errors.As(err, &se) || se.Code != StatusFailure || se.Op != "write" {
		t.Fatalf("WriteAt: n=%d %v", n, err)
	}
	// The client stays usable, and the bytes before n are there.
	got := make([]byte, n)
	if k, err := f.ReadAt(got, 0); k != n || err != nil || !bytes.Equal(got, data[:n]) {
		t.Fatalf("read back: %d %v", k, err)
	}
}

func TestFailedReadFromMovesOffsetToFailure(t *testing.T) {
	c, dir := client(t, sshtest.SFTPOptions{FailWrite: 4})
	f, err := c.Create(testCtx(t), filepath.Join(dir, "w"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := f.ReadFrom(bytes.NewReader(randomBytes(20*32<<10, 6)))
	if n != 3*32<<10 || err == nil {
		t.Fatalf("ReadFrom: %d %v", n, err)
	}
	if off, _ := f.Seek(0, 1); off != n {
		t.Fatalf("offset %d after %d bytes", off, n)
	}
}

func TestServerThatStopsAnswering(t *testing.T) {
	c, dir := client(t, sshtest.SFTPOptions{StopAfter: 1}, Timeout(300*time.Millisecond))
	writeLocal(t, filepath.Join(dir, "f"), randomBytes(1<<20, 7))
	f, err := c.Open(testCtx(t), filepath.Join(dir, "f"), OpenReadOnly, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Metadata(ctx, "/"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ctx call: %v", err)
	}
	start := time.Now()
	if _, err := f.ReadAt(make([]byte, 1<<20), 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadAt with Timeout: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("ReadAt took %v", d)
	}
	// Close wakes a call that waits without bound.
	c2, _ := client(t, sshtest.SFTPOptions{StopAfter: 1})
	if _, err := c2.Metadata(testCtx(t), "/"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	var werr error
	go func() {
		defer wg.Done()
		_, werr = c2.Metadata(context.Background(), "/")
	}()
	for pendingCount(c2) == 0 { // until the call is waiting for its answer
		runtime.Gosched()
	}
	_ = c2.Close()
	wg.Wait()
	if !errors.Is(werr, ErrClosed) {
		t.Fatalf("blocked call after Close: %v", werr)
	}
}

func TestHandleNeverClosed(t *testing.T) {
	c, dir := client(t, sshtest.SFTPOptions{NeverClose: true}, Timeout(200*time.Millisecond))
	writeLocal(t, filepath.Join(dir, "f"), []byte("x"))
	f, err := c.Open(testCtx(t), filepath.Join(dir, "f"), OpenReadOnly, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close of a handle the server keeps: %v", err)
	}
	// The slot of the unanswered CLOSE stays taken; the rest still works.
	if _, err := c.Metadata(testCtx(t), dir); err != nil {
		t.Fatal(err)
	}
}

func TestProtocolViolations(t *testing.T) {
	for name, o := range map[string]sshtest.SFTPOptions{
		"oversized":   {Oversized: 1},
		"malformed":   {Malformed: 1},
		"unknown id":  {UnknownID: 1},
		"unsolicited": {Unsolicited: 1},
	} {
		t.Run(name, func(t *testing.T) {
			c, dir := client(t, o)
			_, err := c.Metadata(testCtx(t), dir)
			protocolBroken(t, c, err)
		})
	}
}

func TestHugeNameList(t *testing.T) {
	c, dir := client(t, sshtest.SFTPOptions{HugeNameList: 10_000_000})
	_, err := c.ReadDir(testCtx(t), dir)
	protocolBroken(t, c, err)
}

func TestEndlessDirectoryIsCapped(t *testing.T) {
	c, dir := client(t, sshtest.SFTPOptions{EndlessDir: true}, MaxReadDirEntries(5000))
	ents, err := c.ReadDir(testCtx(t), dir)
	if !errors.Is(err, ErrTooManyEntries) || len(ents) != 5000 {
		t.Fatalf("ReadDir: %d entries, %v", len(ents), err)
	}
}

func TestDeadConnection(t *testing.T) {
	s, dir := serve(t, sshtest.SFTPOptions{StopAfter: 2})
	c, err := New(testCtx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Metadata(testCtx(t), dir); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Metadata(context.Background(), dir)
		errc <- err
	}()
	_ = s.Disconnect()
	err = <-errc
	var se *StatusError
	if !errors.Is(err, ssh.ErrDisconnected) || errors.As(err, &se) {
		t.Fatalf("call on a dead connection: %v", err)
	}
	if _, err := c.Metadata(testCtx(t), dir); err == nil || errors.As(err, &se) {
		t.Fatalf("later call: %v", err)
	}
}

func TestNewRespectsCtx(t *testing.T) {
	// A server that never answers INIT.
	srv := sshtest.New(t, sshtest.Config{
		Users: map[string]sshtest.User{"alice": {Password: "pw"}},
		Subsystems: map[string]func(sshtest.ExecContext) int{"sftp": func(ctx sshtest.ExecContext) int {
			<-ctx.Ctx.Done()
			return 0
		}},
	})
	s := loginTo(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := New(ctx, s); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("New: %v", err)
	}
	// No subsystem at all.
	srv2 := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	if _, err := New(testCtx(t), loginTo(t, srv2)); !errors.Is(err, ssh.ErrRequestDenied) {
		t.Fatalf("New without a subsystem: %v", err)
	}
}

func TestStatusErrorIsNotReturnedForMissingExtension(t *testing.T) {
	c, _ := client(t, sshtest.SFTPOptions{})
	if err := c.Hardlink(testCtx(t), "/a", "/b"); err != nil && errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("hardlink is announced by pkg/sftp: %v", err)
	}
	_, err := c.extended(testCtx(t), "nope@example.com", "nope", "", nil)
	if !errors.Is(err, errors.ErrUnsupported) || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("unannounced extension: %v", err)
	}
}

func pendingCount(c *Client) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// rawServer serves "sftp" with script, which gets the channel's streams.
func rawServer(t *testing.T, script func(in io.Reader, out io.Writer)) *ssh.Session {
	srv := sshtest.New(t, sshtest.Config{
		Users: map[string]sshtest.User{"alice": {Password: "pw"}},
		Subsystems: map[string]func(sshtest.ExecContext) int{"sftp": func(ctx sshtest.ExecContext) int {
			script(ctx.Stdin, ctx.Stdout)
			return 0
		}},
	})
	return loginTo(t, srv)
}

func readInit(in io.Reader) {
	var b [9]byte
	_, _ = io.ReadFull(in, b[:])
}

func TestBadVersionAnswers(t *testing.T) {
	for name, tc := range map[string]struct {
		version []byte
		want    error
	}{
		"version 2":        {[]byte{0, 0, 0, 5, fxpVersion, 0, 0, 0, 2}, errors.ErrUnsupported},
		"not a version":    {[]byte{0, 0, 0, 5, fxpStatus, 0, 0, 0, 3}, ErrProtocol},
		"truncated":        {[]byte{0, 0, 0, 3, fxpVersion, 0, 0}, ErrProtocol},
		"bad extension":    {[]byte{0, 0, 0, 9, fxpVersion, 0, 0, 0, 3, 0, 0, 0, 9}, ErrProtocol},
		"oversized":        {[]byte{0x7f, 0, 0, 0, fxpVersion}, ErrProtocol},
		"closed before it": {nil, ErrServerClosed},
	} {
		t.Run(name, func(t *testing.T) {
			s := rawServer(t, func(in io.Reader, out io.Writer) {
				readInit(in)
				_, _ = out.Write(tc.version)
			})
			if _, err := New(testCtx(t), s); !errors.Is(err, tc.want) {
				t.Fatalf("New: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestServerClosingTheChannel(t *testing.T) {
	s := rawServer(t, func(in io.Reader, out io.Writer) {
		readInit(in)
		_, _ = out.Write([]byte{0, 0, 0, 5, fxpVersion, 0, 0, 0, 3})
	})
	c, err := New(testCtx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Metadata(testCtx(t), "/")
	var se *StatusError
	if !errors.Is(err, ErrServerClosed) || errors.Is(err, ssh.ErrDisconnected) || errors.As(err, &se) {
		t.Fatalf("after the server closed the channel: %v", err)
	}
}

func TestWrongAnswerTypes(t *testing.T) {
	// The server answers each request with a DATA packet of the request's id.
	s := rawServer(t, func(in io.Reader, out io.Writer) {
		readInit(in)
		_, _ = out.Write([]byte{0, 0, 0, 5, fxpVersion, 0, 0, 0, 3})
		var hdr [9]byte
		if _, err := io.ReadFull(in, hdr[:]); err != nil {
			return
		}
		n := int(hdr[0])<<24 | int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
		_, _ = io.CopyN(io.Discard, in, int64(n-5))
		_, _ = out.Write([]byte{0, 0, 0, 9, fxpData, hdr[5], hdr[6], hdr[7], hdr[8], 0, 0, 0, 0})
		_, _ = io.Copy(io.Discard, in)
	})
	c, err := New(testCtx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Metadata(testCtx(t), "/")
	protocolBroken(t, c, err)
}

func TestDirectoryEntriesThatAreNotNames(t *testing.T) {
	for _, name := range []string{"../escape", "a/b", "", "nul\x00"} {
		t.Run(name, func(t *testing.T) {
			c, dir := client(t, sshtest.SFTPOptions{DirNames: []string{"ok", name}})
			_, err := c.ReadDir(testCtx(t), dir)
			protocolBroken(t, c, err)
		})
	}
}
