package sftp

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestTransferMemoryBounded moves a file much larger than MaxTransferBuffer each way through
// the in-process server, sampling the heap from the progress callback: the heap in use may grow
// by the transfer's buffers and the channels' windows, never by the file. 1 GiB without -race,
// 32 MiB with it (the in-process server moves about 10 MB/s under -race) or with -short; four
// channels either way.
func TestTransferMemoryBounded(t *testing.T) {
	size := int64(1 << 30)
	if raceEnabled || testing.Short() {
		size = 32 << 20
	}
	c, _, _ := xferClient(t, xferServerConfig(xferHandler()))
	ctx := xferCtx(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	// A sparse file: the test is about memory, and the disk need not hold it.
	if err := os.WriteFile(src, []byte("head"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(src, size); err != nil {
		t.Fatal(err)
	}
	const limit = 64 << 20 // MaxTransferBuffer, 4 channel windows of 2 MiB each side, the server's buffers
	for _, op := range []string{"get", "put"} {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base, peak := ms.HeapInuse, ms.HeapInuse
		var next int64
		prog := Progress(func(done, _ int64) {
			if done < next {
				return
			}
			next = done + 16<<20
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		})
		dst := filepath.Join(dir, op)
		start := time.Now()
		var err error
		if op == "get" {
			err = c.Get(ctx, src, dst, prog, Channels(4))
		} else {
			err = c.Put(ctx, src, dst, prog, Channels(4))
		}
		if err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		t.Logf("%s of %d MiB: %v (%.0f MB/s), heap in use grew by at most %.1f MiB", op, size>>20, d.Round(time.Millisecond),
			float64(size)/1e6/d.Seconds(), float64(peak-base)/(1<<20))
		if peak-base > limit {
			t.Errorf("%s: heap in use grew by %d MiB, more than %d MiB", op, (peak-base)>>20, limit>>20)
		}
		if fi, err := os.Stat(dst); err != nil || fi.Size() != size {
			t.Fatalf("%s: %v, %v", op, fi, err)
		}
		os.Remove(dst)
	}
}
