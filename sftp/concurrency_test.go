package sftp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
)

// Many goroutines share one Client whose two request slots they must take
// turns on; every file comes back intact.
func TestConcurrentCallsShareSlots(t *testing.T) {
	c, dir := client(t, sshtest.SFTPOptions{}, MaxInFlight(2), MaxRequestSize(8<<10))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := randomBytes(200<<10+i, uint64(100+i))
			p := filepath.Join(dir, fmt.Sprint("c", i))
			f, err := c.Open(ctx, p, OpenReadWrite|OpenCreate|OpenTruncate, 0o600)
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			if n, err := f.WriteAt(data, 0); n != len(data) || err != nil {
				errs <- fmt.Errorf("WriteAt %d: %d %v", i, n, err)
				return
			}
			got := make([]byte, len(data))
			if n, err := f.ReadAt(got, 0); n != len(data) || err != nil || !bytes.Equal(got, data) {
				errs <- fmt.Errorf("ReadAt %d: %d %v", i, n, err)
				return
			}
			if _, err := c.Metadata(ctx, p); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestWriteTimesOutOnSilentServer(t *testing.T) {
	c, dir := client(t, sshtest.SFTPOptions{StopAfter: 1}, Timeout(200*time.Millisecond))
	f, err := c.Create(testCtx(t), filepath.Join(dir, "w"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.Write(make([]byte, 1<<20))
	if n != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write: %d %v", n, err)
	}
	// The server answers nothing more: calls wait until their ctx ends.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Metadata(ctx, dir); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Metadata: %v", err)
	}
}

func TestInvalidArguments(t *testing.T) {
	c, dir := client(t, sshtest.SFTPOptions{})
	ctx := testCtx(t)
	writeLocal(t, filepath.Join(dir, "f"), []byte("abc"))
	f, err := c.Open(ctx, filepath.Join(dir, "f"), OpenReadOnly, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(make([]byte, 1), -1); err == nil {
		t.Fatal("negative offset accepted")
	}
	if _, err := f.WriteAt([]byte("x"), -1); err == nil {
		t.Fatal("negative offset accepted")
	}
	if err := c.Chown(ctx, filepath.Join(dir, "f"), -1, 0); err == nil {
		t.Fatal("negative uid accepted")
	}
	if err := c.Truncate(ctx, filepath.Join(dir, "f"), -1); err == nil {
		t.Fatal("negative size accepted")
	}
	if _, err := f.Seek(0, 7); err == nil {
		t.Fatal("bad whence accepted")
	}
	// Writing to a read-only handle is the server's refusal, not ours.
	var se *StatusError
	if _, err := f.WriteAt([]byte("x"), 0); !errors.As(err, &se) {
		t.Fatalf("write to a read-only handle: %v", err)
	}
}
