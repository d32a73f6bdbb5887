package sftp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"
)

// progress counts the bytes done and reports them to the user's callback from the goroutine
// of Get or Put only.
type progress struct {
	fn       func(done, total int64)
	total    int64
	done     atomic.Int64
	poke     chan struct{} // a worker finished a chunk
	last     int64
	reported bool
}

func newProgress(fn func(done, total int64)) *progress {
	return &progress{fn: fn, poke: make(chan struct{}, 1)}
}

// add counts n more bytes done; workers call it.
func (p *progress) add(n int64) {
	p.done.Add(n)
	select {
	case p.poke <- struct{}{}:
	default:
	}
}

// report calls the callback if done moved since the last call (or there was none).
func (p *progress) report() {
	if p.fn == nil {
		return
	}
	d := p.done.Load()
	if p.reported && d == p.last {
		return
	}
	p.last, p.reported = d, true
	p.fn(d, max(p.total, d))
}

// chunking returns the chunk size and number of workers for a transfer of remaining bytes on
// lanes channels, within MaxTransferBuffer.
func chunking(remaining int64, lanes, pref int, cfg *transferConfig) (chunk, workers int) {
	perLane := cfg.concurrency
	if perLane <= 0 {
		perLane = DefaultConcurrency
	}
	perLane = min(perLane, maxConcurrency)
	chunk = pref
	for chunk > minTransferChunk && lanes*perLane*chunk > MaxTransferBuffer {
		chunk /= 2
	}
	for perLane > 1 && lanes*perLane*chunk > MaxTransferBuffer {
		perLane--
	}
	workers = lanes * perLane
	if need := (remaining + int64(chunk) - 1) / int64(chunk); need < int64(workers) {
		workers = int(max(need, 1))
	}
	if remaining < int64(chunk) {
		chunk = int(max(remaining, 1))
	}
	return chunk, workers
}

// copyResult is what copyRange achieved: every byte before firstBad was written; firstBad is
// the end of the range on success.
type copyResult struct {
	firstBad int64
	err      error
}

// copyRange copies bytes [start, end) from src to dst with concurrent workers, spread over
// the lanes of both, reporting progress on the calling goroutine. On failure it stops handing
// out chunks, waits for those in flight, and returns the lowest offset that failed, so that
// everything below it is known to be written: chunks are handed out in increasing order and a
// lower chunk that was still in flight has either completed or failed lower.
func (t *transfer) copyRange(ctx context.Context, src, dst *handles, start, end int64) copyResult {
	lanes := max(len(src.read), len(dst.write))
	pref := transferChunk
	for _, c := range []int{t.src.chunk(false), t.dst.chunk(true)} {
		if c > 0 {
			pref = min(pref, c)
		}
	}
	chunk, workers := chunking(end-start, lanes, pref, &t.cfg)

	var (
		mu       sync.Mutex
		next     = start
		firstBad = end
		badErr   error
		wg       sync.WaitGroup
	)
	fail := func(off int64, err error) {
		mu.Lock()
		defer mu.Unlock()
		if badErr == nil || off < firstBad {
			firstBad, badErr = off, err
		}
	}
	take := func() (int64, int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if badErr != nil || next >= end {
			return 0, 0, false
		}
		off := next
		n := int(min(int64(chunk), end-off))
		next += int64(n)
		return off, n, true
	}
	for i := range workers {
		read := src.read[i%len(src.read)]
		write := dst.write[i%len(dst.write)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, chunk)
			for {
				off, n, ok := take()
				if !ok {
					return
				}
				if err := ctx.Err(); err != nil {
					fail(off, err)
					return
				}
				rn, err := read(ctx, buf[:n], off)
				if rn < n && (err == nil || errors.Is(err, io.EOF)) {
					err = io.ErrUnexpectedEOF // the source shrank since it was listed
				}
				if rn > n {
					rn = n
				}
				if rn > 0 {
					wn, werr := write(ctx, buf[:rn], off)
					if werr == nil && wn < rn {
						werr = io.ErrShortWrite
					}
					if werr != nil {
						fail(off+int64(max(wn, 0)), werr)
						return
					}
					t.prog.add(int64(rn))
				}
				if rn < n {
					fail(off+int64(rn), err)
					return
				}
			}
		}()
	}
	t.waitReporting(&wg)
	return copyResult{firstBad: firstBad, err: badErr}
}

// waitReporting waits for wg; on the goroutine of Get or Put it reports progress meanwhile.
// Inside a tree copy files run on workers and the tree's own loop reports.
func (t *transfer) waitReporting(wg *sync.WaitGroup) {
	if t.inTree {
		wg.Wait()
		return
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	for {
		select {
		case <-t.prog.poke:
			t.prog.report()
		case <-finished:
			t.prog.report()
			return
		}
	}
}

// report reports progress, unless this is a worker of a tree copy.
func (t *transfer) report() {
	if !t.inTree {
		t.prog.report()
	}
}

// copyFile copies one regular file from (listed as info) to the destination path target.
func (t *transfer) copyFile(ctx context.Context, from string, info entry, target string) error {
	lanes := max(t.src.lanes(ctx, info.size, &t.cfg), t.dst.lanes(ctx, info.size, &t.cfg))
	src, err := t.src.openRead(ctx, from, lanes)
	if err != nil {
		return t.fail(from, -1, err)
	}
	defer func() {
		// The source's close matters to nobody once the data is in, so a server that never
		// answers it (sshtest's NeverClose) holds the transfer up by sourceCloseWait at most.
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		cctx, cancel2 := context.WithTimeout(cctx, sourceCloseWait)
		defer cancel2()
		_ = src.close(cctx)
	}()

	dir, name := t.dst.split(target)
	var (
		tmp   string
		dst   *handles
		start int64
	)
	if t.cfg.resume {
		tmp = t.dst.join(dir, "."+name+".part")
		var complete bool
		start, complete, err = t.prepareResume(ctx, from, info, src, target, tmp)
		if err != nil {
			return t.fail(from, start, err)
		}
		t.prog.add(start)
		if complete {
			t.prog.add(info.size - start)
			t.report()
			return t.fail(from, -1, t.setAttrs(ctx, info, target))
		}
		if _, err = t.dst.lstat(ctx, tmp); err == nil {
			dst, err = t.dst.openWrite(ctx, tmp, lanes)
		} else if errors.Is(err, fs.ErrNotExist) {
			dst, err = t.dst.create(ctx, tmp, t.permOf(info.mode), lanes)
		}
	} else {
		tmp, dst, err = t.createTemp(ctx, dir, name, t.permOf(info.mode), lanes)
	}
	if err != nil {
		return t.fail(from, -1, err)
	}
	t.report()

	res := t.copyRange(ctx, src, dst, start, info.size)
	if res.err == nil && t.cfg.fsync && dst.sync != nil {
		if err := dst.sync(ctx); err != nil && !errors.Is(err, errors.ErrUnsupported) {
			res = copyResult{firstBad: -1, err: err}
		}
	}
	cctx, cancel := cleanupContext(ctx)
	cerr := dst.close(cctx)
	cancel()
	if res.err == nil && cerr != nil {
		res = copyResult{firstBad: -1, err: cerr}
	}
	if res.err == nil {
		res.err = t.checkSize(ctx, tmp, info.size)
		if res.err != nil {
			res.firstBad = -1
		}
	}
	if res.err == nil {
		res.err = t.setAttrs(ctx, info, tmp)
	}
	if res.err == nil {
		res.err = t.dst.rename(ctx, tmp, target)
	}
	if res.err != nil {
		// Never leave a file with holes: a resumable partial is cut back to its contiguous
		// prefix; any other temporary file goes. Both are best effort on a dead connection,
		// which is why Resume also restarts a little before the end (prepareResume).
		cleanup, cancel := cleanupContext(ctx)
		defer cancel()
		if t.cfg.resume && res.firstBad >= 0 {
			_ = t.dst.truncate(cleanup, tmp, res.firstBad)
		} else if !t.cfg.resume {
			_ = t.dst.remove(cleanup, tmp)
		}
		return t.fail(from, res.firstBad, res.err)
	}
	return nil
}

const (
	// cleanupGrace is how long cleaning up after a failure may take once ctx is done.
	cleanupGrace = time.Second
	// sourceCloseWait bounds the wait for the answer to closing a file that was only read.
	sourceCloseWait = 2 * time.Second
)

// cleanupContext is ctx while it lasts; after it ended, cleaning up gets cleanupGrace more, so
// that a temporary file can still be removed from a server that answers, while one that does
// not answer delays the return by no more than that.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return ctx, func() {}
	}
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupGrace)
}

// createTemp creates ".name.part-RANDOM" in dir.
func (t *transfer) createTemp(ctx context.Context, dir, name string, perm fs.FileMode, lanes int) (string, *handles, error) {
	for range 8 {
		var b [6]byte
		_, _ = rand.Read(b[:])
		tmp := t.dst.join(dir, "."+name+".part-"+hex.EncodeToString(b[:]))
		h, err := t.dst.create(ctx, tmp, perm, lanes)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return tmp, h, err
	}
	return "", nil, fs.ErrExist
}

// checkSize verifies that p has size bytes.
func (t *transfer) checkSize(ctx context.Context, p string, size int64) error {
	fi, err := t.dst.stat(ctx, p)
	if err != nil {
		return err
	}
	if fi.size != size {
		return ErrSizeMismatch
	}
	return nil
}

// setAttrs applies PreserveMode and PreserveTimes to p.
func (t *transfer) setAttrs(ctx context.Context, info entry, p string) error {
	if t.cfg.preserveMode {
		if err := t.dst.chmod(ctx, p, info.mode.Perm()); err != nil {
			return err
		}
	}
	if t.cfg.preserveTime {
		if err := t.dst.setTimes(ctx, p, info.atime, info.mtime); err != nil {
			return err
		}
	}
	return nil
}

// prepareResume finds the partial destination and returns the offset to continue from, and
// whether the target is already complete.
//
// The offset is not the partial file's size but up to MaxTransferBuffer before it: a transfer
// cut off before it could clean up (a dead connection, a killed process) has had up to that
// many bytes of chunks in flight, written out of order, so the last part of the file may hold
// holes. Copying it again costs little next to a file worth resuming.
func (t *transfer) prepareResume(ctx context.Context, from string, info entry, src *handles, target, tmp string) (int64, bool, error) {
	have := int64(-1)
	pi, err := t.dst.lstat(ctx, tmp)
	switch {
	case err == nil && !pi.mode.IsRegular():
		return -1, false, ErrResumeMismatch
	case err == nil:
		have = pi.size
	case !errors.Is(err, fs.ErrNotExist):
		return -1, false, err
	}
	usingTarget := false
	if have < 0 {
		ti, err := t.dst.lstat(ctx, target)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return 0, false, nil
		case err != nil:
			return -1, false, err
		case !ti.mode.IsRegular():
			return -1, false, ErrResumeMismatch
		}
		have, usingTarget = ti.size, true
	}
	if have > info.size {
		return -1, false, ErrResumeMismatch
	}
	start := max(0, have-resumeBackoff)
	if usingTarget && have == info.size {
		start = have // a complete target: compare its tail only
	}
	check := tmp
	if usingTarget {
		check = target
	}
	if err := t.compareTail(ctx, src, check, start); err != nil {
		return -1, false, err
	}
	if usingTarget {
		if have == info.size {
			return have, true, nil
		}
		if err := t.dst.rename(ctx, target, tmp); err != nil {
			return -1, false, err
		}
	}
	return start, false, nil
}

// compareTail compares the resumeTail bytes before off in the source and in the destination
// file p.
func (t *transfer) compareTail(ctx context.Context, src *handles, p string, off int64) error {
	n := min(off, resumeTail)
	if n == 0 {
		return nil
	}
	d, err := t.dst.openRead(ctx, p, 1)
	if err != nil {
		return err
	}
	defer d.close(ctx)
	a, b := make([]byte, n), make([]byte, n)
	if err := readFull(ctx, src.read[0], a, off-n); err != nil {
		return err
	}
	if err := readFull(ctx, d.read[0], b, off-n); err != nil {
		return err
	}
	if !bytes.Equal(a, b) {
		return ErrResumeMismatch
	}
	return nil
}

func readFull(ctx context.Context, read ioFunc, p []byte, off int64) error {
	n, err := read(ctx, p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}
