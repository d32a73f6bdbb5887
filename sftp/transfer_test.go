package sftp

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestTransferGetPutFile(t *testing.T) {
	c, _, _ := xferClient(t, xferServerConfig(xferHandler()))
	ctx := xferCtx(t)
	for i, size := range []int64{0, 1, transferChunk - 1, transferChunk, 3*transferChunk + 17} {
		dir := t.TempDir()
		src := filepath.Join(dir, "src")
		want := randomFile(t, src, size, uint64(i))

		remote := filepath.Join(dir, "remote")
		if err := c.Put(ctx, src, remote); err != nil {
			t.Fatalf("Put %d bytes: %v", size, err)
		}
		sameFile(t, remote, want)

		back := filepath.Join(dir, "back")
		if err := c.Get(ctx, remote, back); err != nil {
			t.Fatalf("Get %d bytes: %v", size, err)
		}
		sameFile(t, back, want)
		noTemps(t, dir)
	}
}

func TestTransferReplacesAndIntoDirectory(t *testing.T) {
	c, _, _ := xferClient(t, xferServerConfig(xferHandler()))
	ctx := xferCtx(t)
	dir := t.TempDir()
	remote := filepath.Join(dir, "data.bin")
	want := randomFile(t, remote, 100_000, 7)

	into := filepath.Join(dir, "into")
	if err := os.Mkdir(into, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, remote, into); err != nil {
		t.Fatal(err)
	}
	sameFile(t, filepath.Join(into, "data.bin"), want)

	// An existing target is replaced, on both sides.
	old := filepath.Join(dir, "old")
	if err := os.WriteFile(old, []byte("an older and longer version of the file, to be replaced entirely"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, remote, old); err != nil {
		t.Fatal(err)
	}
	sameFile(t, old, want)
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, small, old); err != nil {
		t.Fatal(err)
	}
	sameFile(t, old, []byte("x"))
	noTemps(t, dir)
	noTemps(t, into)
}

func TestTransferMultiChannel(t *testing.T) {
	c, _, _ := xferClient(t, xferServerConfig(xferHandler()))
	ctx := xferCtx(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	want := randomFile(t, src, 5<<20+123, 11)
	for _, n := range []int{1, 3} {
		remote := filepath.Join(dir, "remote")
		if err := c.Put(ctx, src, remote, Channels(n), Concurrency(4)); err != nil {
			t.Fatalf("Put with %d channels: %v", n, err)
		}
		sameFile(t, remote, want)
		back := filepath.Join(dir, "back")
		if err := c.Get(ctx, remote, back, Channels(n), Concurrency(4)); err != nil {
			t.Fatalf("Get with %d channels: %v", n, err)
		}
		sameFile(t, back, want)
	}
	// The extra channels are closed before Get returns; the Client goes on working.
	if _, err := c.Metadata(ctx, src); err != nil {
		t.Fatal(err)
	}
	noTemps(t, dir)
}

func TestTransferProgress(t *testing.T) {
	c, _, _ := xferClient(t, xferServerConfig(xferHandler()))
	ctx := xferCtx(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	const size = 2<<20 + 5
	randomFile(t, src, size, 3)
	for _, op := range []string{"get", "put"} {
		var calls []int64
		var inside atomic.Int32
		prog := Progress(func(done, total int64) {
			if inside.Add(1) != 1 {
				t.Error("progress callback called concurrently")
			}
			defer inside.Add(-1)
			if total != size {
				t.Errorf("total %d, want %d", total, size)
			}
			if n := len(calls); n > 0 && done <= calls[n-1] {
				t.Errorf("done went from %d to %d", calls[n-1], done)
			}
			calls = append(calls, done)
		})
		var err error
		if op == "get" {
			err = c.Get(ctx, src, filepath.Join(dir, "got"), prog, Concurrency(2))
		} else {
			err = c.Put(ctx, src, filepath.Join(dir, "put"), prog, Concurrency(2))
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) < 2 || calls[0] != 0 || calls[len(calls)-1] != size {
			t.Fatalf("%s: progress calls %v", op, calls)
		}
	}
}

func TestTransferPreserve(t *testing.T) {
	c, _, _ := xferClient(t, xferServerConfig(xferHandler()))
	ctx := xferCtx(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	randomFile(t, src, 1000, 5)
	if err := os.Chmod(src, 0o640); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	atime := time.Date(2002, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := os.Chtimes(src, atime, mtime); err != nil {
		t.Fatal(err)
	}
	check := func(p string, perm fs.FileMode, wantAtime bool) {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(mtime) || fi.Mode().Perm() != perm {
			t.Errorf("%s: mtime %v mode %v; want %v %v", p, fi.ModTime(), fi.Mode().Perm(), mtime, perm)
		}
		if at := accessTime(fi); wantAtime && !at.Equal(atime) {
			t.Errorf("%s: atime %v, want %v", p, at, atime)
		}
	}
	if err := c.Put(ctx, src, filepath.Join(dir, "put"), PreserveTimes(), PreserveMode()); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(dir, "put"), 0o640, true)
	if err := os.Chtimes(src, atime, mtime); err != nil { // reading it moved its atime
		t.Fatal(err)
	}
	if err := c.Get(ctx, src, filepath.Join(dir, "got"), PreserveTimes(), PreserveMode()); err != nil {
		t.Fatal(err)
	}
	// pkg/sftp's server, behind sshtest, reports the modification time as the access time;
	// the interop test checks atimes from OpenSSH's server.
	check(filepath.Join(dir, "got"), 0o640, false)

	// Without the options, the copy is new and writable by its owner.
	if err := c.Get(ctx, src, filepath.Join(dir, "plain")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "plain"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.ModTime().Equal(mtime) || fi.Mode().Perm()&0o200 == 0 {
		t.Errorf("plain copy: mtime %v mode %v", fi.ModTime(), fi.Mode())
	}
}

func TestTransferErrors(t *testing.T) {
	c, _, _ := xferClient(t, xferServerConfig(xferHandler()))
	ctx := xferCtx(t)
	dir := t.TempDir()
	var te *TransferError

	err := c.Get(ctx, filepath.Join(dir, "missing"), filepath.Join(dir, "x"))
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &te) || te.Op != "get" || te.Offset != -1 {
		t.Fatalf("Get of a missing file: %v", err)
	}
	err = c.Put(ctx, filepath.Join(dir, "missing"), filepath.Join(dir, "x"))
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &te) || te.Op != "put" {
		t.Fatalf("Put of a missing file: %v", err)
	}
	if err := c.Get(ctx, dir, filepath.Join(t.TempDir(), "x")); !errors.Is(err, ErrIsDirectory) {
		t.Fatalf("Get of a directory without Recursive: %v", err)
	}
	if err := c.Put(ctx, dir, filepath.Join(t.TempDir(), "x")); !errors.Is(err, ErrIsDirectory) {
		t.Fatalf("Put of a directory without Recursive: %v", err)
	}
	// A destination directory that does not exist.
	src := filepath.Join(dir, "src")
	randomFile(t, src, 10, 1)
	if err := c.Put(ctx, src, filepath.Join(dir, "no", "such", "dir", "f")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Put into a missing directory: %v", err)
	}
	if err := c.Get(ctx, src, filepath.Join(dir, "no", "such", "dir", "f")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Get into a missing directory: %v", err)
	}
	noTemps(t, dir)

	// A cancelled ctx.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Get(cctx, src, filepath.Join(dir, "y")); !errors.Is(err, context.Canceled) || !errors.As(err, &te) {
		t.Fatalf("Get with a cancelled ctx: %v", err)
	}
}

func TestTransferChunking(t *testing.T) {
	for _, lanes := range []int{1, 2, 4, 8, 32} {
		for _, conc := range []int{0, 1, 16, 64, 256, 100000} {
			cfg := transferConfig{concurrency: conc}
			chunk, workers := chunking(1<<30, lanes, transferChunk, &cfg)
			if chunk*workers > MaxTransferBuffer || chunk < minTransferChunk || workers < lanes {
				t.Errorf("lanes %d concurrency %d: %d workers of %d bytes", lanes, conc, workers, chunk)
			}
		}
	}
	cfg := transferConfig{}
	if chunk, workers := chunking(10, 4, transferChunk, &cfg); chunk != 10 || workers != 1 {
		t.Errorf("10 bytes: %d workers of %d bytes", workers, chunk)
	}
	if _, workers := chunking(0, 1, transferChunk, &cfg); workers != 1 {
		t.Errorf("empty file: %d workers", workers)
	}
}

func TestTransferSafeName(t *testing.T) {
	for _, n := range []string{"a", "a b", ".hidden", "..x", "x..", "ünï"} {
		if !safeName(n) {
			t.Errorf("%q refused", n)
		}
	}
	for _, n := range []string{"", ".", "..", "a/b", "/etc", "../x", "a\x00b"} {
		if safeName(n) {
			t.Errorf("%q accepted", n)
		}
	}
}
