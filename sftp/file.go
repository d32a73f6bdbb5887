package sftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
)

// File is an open remote file (libssh-rs SftpFile). It is an io.Reader,
// io.Writer, io.Seeker, io.ReaderAt, io.WriterAt, io.ReaderFrom,
// io.WriterTo and io.Closer. Read, Write, Seek, ReadFrom and WriteTo use
// and move the file's offset and take turns; ReadAt and WriteAt may run
// concurrently with anything.
//
// Large calls are pipelined: ReadAt, WriteAt, Read and Write of more than
// one request's size, and ReadFrom and WriteTo (which io.Copy uses), keep
// up to MaxInFlight requests on the wire. A short read from the server is
// re-asked for the rest, so ReadAt returns fewer bytes only with an error
// (io.EOF at the end of the file). A failed pipelined write reports, as n,
// the bytes before the first offset whose write failed; everything before
// it was acknowledged, so the file has no hole below n.
//
// The io methods take no ctx: each of their waits is bounded by the
// Client's Timeout option (none by default) and ends when the Client is
// closed or its connection ends. The methods that take a ctx wait until it
// ends too.
type File struct {
	c      *Client
	path   string
	handle string
	append bool

	mu     sync.Mutex // orders the offset users
	off    int64
	closed atomic.Bool
}

// Name is the path the file was opened with.
func (f *File) Name() string { return f.path }

func (f *File) check() error {
	if f.closed.Load() {
		return fmt.Errorf("sftp: %s: %w", f.path, ErrClosed)
	}
	return nil
}

// Close releases the handle (SSH_FXP_CLOSE) and waits for the answer, as
// the io methods wait. For a written file, the server reports delayed
// write errors here. Calls after Close return ErrClosed; Close again
// returns nil.
func (f *File) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	return f.c.closeHandle(context.Background(), f.c.cfg.timeout, f.handle, "close", f.path)
}

// Metadata returns the open file's attributes (SSH_FXP_FSTAT).
func (f *File) Metadata(ctx context.Context) (Metadata, error) {
	if err := f.check(); err != nil {
		return Metadata{}, err
	}
	a, err := f.c.attrsOf(ctx, 0, fxpFstat, "fstat", f.path, func(e *encoder) { e.str(f.handle) })
	if err != nil {
		return Metadata{}, err
	}
	return newMetadata(baseName(f.path), "", a), nil
}

// SetMetadata changes the open file's attributes (SSH_FXP_FSETSTAT).
func (f *File) SetMetadata(ctx context.Context, a SetAttributes) error {
	if err := f.check(); err != nil {
		return err
	}
	if err := a.check("fsetstat", f.path); err != nil {
		return err
	}
	return f.c.call0(ctx, fxpFsetstat, "fsetstat", f.path, func(e *encoder) {
		e.str(f.handle)
		e.attrs(&a)
	})
}

// Truncate sets the open file's size (SSH_FXP_FSETSTAT). The offset does
// not move.
func (f *File) Truncate(ctx context.Context, size int64) error {
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: f.path, Err: fs.ErrInvalid}
	}
	s := uint64(size)
	return f.SetMetadata(ctx, SetAttributes{Size: &s})
}

// Sync asks the server to flush the file to stable storage
// (fsync@openssh.com; errors.ErrUnsupported without it).
func (f *File) Sync(ctx context.Context) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.c.ext0(ctx, "fsync@openssh.com", "fsync", f.path, func(e *encoder) { e.str(f.handle) })
}

// Seek sets the offset for the next Read or Write (io.Seeker). io.SeekEnd
// asks the server for the size (FSTAT). A resulting negative offset is an
// error matching fs.ErrInvalid.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = f.off
	case io.SeekEnd:
		a, err := f.c.attrsOf(context.Background(), f.c.cfg.timeout, fxpFstat, "fstat", f.path,
			func(e *encoder) { e.str(f.handle) })
		if err != nil {
			return f.off, err
		}
		base = int64(a.size)
	default:
		return f.off, &fs.PathError{Op: "seek", Path: f.path, Err: fs.ErrInvalid}
	}
	if base+offset < 0 {
		return f.off, &fs.PathError{Op: "seek", Path: f.path, Err: fs.ErrInvalid}
	}
	f.off = base + offset
	return f.off, nil
}

// readReq is one READ in flight: it asks for n bytes at off (pos in the
// caller's buffer for ReadAt).
type readReq struct {
	cl  *call
	off int64
	n   int
}

func (f *File) startRead(off int64, n int) (*call, error) {
	return f.c.start(context.Background(), f.c.cfg.timeout, fxpRead, nil, func(e *encoder) {
		e.str(f.handle)
		e.u64(uint64(off))
		e.u32(uint32(n))
	})
}

// data returns the bytes of a READ's answer: io.EOF for an EOF status (and
// for an empty DATA, which would otherwise loop).
func (c *Client) data(r result, want int, path string) ([]byte, error) {
	switch r.typ {
	case fxpData:
		if r.direct {
			if r.n == 0 {
				return nil, io.EOF
			}
			return nil, nil // the data is in the call's dst
		}
		d := decoder{b: r.body}
		b := d.bytes()
		if d.bad || len(b) > want {
			c.recycle(r)
			return nil, c.fail(fmt.Errorf("%w: DATA of %d bytes for a read of %d", ErrProtocol, len(b), want))
		}
		if len(b) == 0 {
			c.recycle(r)
			return nil, io.EOF
		}
		return b, nil
	case fxpStatus:
		err := c.status(r, "read", path)
		var se *StatusError
		if errors.As(err, &se) && se.Code == StatusEOF {
			return nil, io.EOF
		}
		if err == nil {
			return nil, c.fail(fmt.Errorf("%w: read answered OK without data", ErrProtocol))
		}
		return nil, err
	}
	c.recycle(r)
	return nil, c.fail(fmt.Errorf("%w: read answered with packet type %d", ErrProtocol, r.typ))
}

func (c *Client) abandonAll(q []readReq) {
	for _, r := range q {
		c.abandon(r.cl)
	}
}

// ReadAt reads len(p) bytes at off (io.ReaderAt), with up to MaxInFlight
// requests in flight. It returns n < len(p) only with an error: io.EOF when
// the file ended.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "readat", Path: f.path, Err: fs.ErrInvalid}
	}
	return f.readAt(p, off)
}

func (f *File) readAt(p []byte, off int64) (int, error) {
	c := f.c
	var queue []readReq
	next, done := 0, 0
	window := min(4, c.cfg.maxInFlight)
	for done < len(p) {
		for next < len(p) && len(queue) < window {
			n := min(c.readLen, len(p)-next)
			cl, err := f.startRead(off+int64(next), n)
			if err != nil {
				c.abandonAll(queue)
				return done, opErr("read", f.path, err)
			}
			queue = append(queue, readReq{cl, off + int64(next), n})
			next += n
		}
		h := queue[0]
		queue = queue[1:]
		r, err := c.wait(context.Background(), c.cfg.timeout, h.cl)
		if err != nil {
			c.abandonAll(queue)
			return done, opErr("read", f.path, err)
		}
		b, err := c.data(r, h.n, f.path)
		if err != nil {
			c.abandonAll(queue)
			return done, err
		}
		pos := int(h.off - off)
		k := copy(p[pos:], b)
		c.recycle(r)
		done = pos + k
		if k < h.n { // short read: ask for the rest first
			cl, err := f.startRead(h.off+int64(k), h.n-k)
			if err != nil {
				c.abandonAll(queue)
				return done, opErr("read", f.path, err)
			}
			queue = append([]readReq{{cl, h.off + int64(k), h.n - k}}, queue...)
		}
		window = min(window*2, c.cfg.maxInFlight)
	}
	return done, nil
}

// Read reads up to len(p) bytes at the offset and moves it (io.Reader).
// It returns io.EOF only when no byte was read.
func (f *File) Read(p []byte) (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.readAt(p, f.off)
	f.off += int64(n)
	if n > 0 && err == io.EOF {
		err = nil
	}
	return n, err
}

// WriteTo copies the file from the offset to its end into w (io.WriterTo),
// with up to MaxInFlight reads ahead (starting with a few and doubling, so
// a small file costs few requests). Each answer's bytes go to w as they
// arrive, in order, with no intermediate copy. The offset moves by the
// bytes written to w.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.c
	var queue []readReq
	var written int64
	next := f.off
	window := min(2, c.cfg.maxInFlight)
	end := false
	defer func() { f.off += written }()
	for {
		for !end && len(queue) < window {
			cl, err := f.startRead(next, c.readLen)
			if err != nil {
				c.abandonAll(queue)
				return written, opErr("read", f.path, err)
			}
			queue = append(queue, readReq{cl, next, c.readLen})
			next += int64(c.readLen)
		}
		if len(queue) == 0 {
			return written, nil
		}
		h := queue[0]
		queue = queue[1:]
		r, err := c.wait(context.Background(), c.cfg.timeout, h.cl)
		if err != nil {
			c.abandonAll(queue)
			return written, opErr("read", f.path, err)
		}
		b, err := c.data(r, h.n, f.path)
		if err == io.EOF {
			c.abandonAll(queue)
			return written, nil
		}
		if err != nil {
			c.abandonAll(queue)
			return written, err
		}
		k, werr := w.Write(b)
		c.recycle(r)
		written += int64(k)
		if werr == nil && k < len(b) {
			werr = io.ErrShortWrite
		}
		if werr != nil {
			c.abandonAll(queue)
			return written, werr
		}
		if k < h.n {
			cl, err := f.startRead(h.off+int64(k), h.n-k)
			if err != nil {
				c.abandonAll(queue)
				return written, opErr("read", f.path, err)
			}
			queue = append([]readReq{{cl, h.off + int64(k), h.n - k}}, queue...)
		}
		window = min(window*2, c.cfg.maxInFlight)
	}
}

// startWrite sends a WRITE of n bytes at off whose data fill put in place
// into a pooled buffer: one copy from the caller's memory to the packet.
func (f *File) startWrite(off int64, fill func(dst []byte) int) (*call, int, error) {
	c := f.c
	buf := c.getBuf()
	hs := 25 + len(f.handle)
	buf = buf[:cap(buf)]
	n := fill(buf[hs:min(hs+c.writeLen, len(buf))])
	if n == 0 {
		c.putBuf(buf)
		return nil, 0, nil
	}
	cl, err := c.start(context.Background(), c.cfg.timeout, fxpWrite, buf[:0], func(e *encoder) {
		e.str(f.handle)
		e.u64(uint64(off))
		e.u32(uint32(n))
		e.b = e.b[:len(e.b)+n]
	})
	return cl, n, err
}

// writeReq is one WRITE in flight.
type writeReq struct {
	cl  *call
	off int64
}

func (c *Client) abandonWrites(q []writeReq) {
	for _, r := range q {
		c.abandon(r.cl)
	}
}

// ackWrite waits for the answer to the oldest write.
func (f *File) ackWrite(h writeReq) error {
	r, err := f.c.wait(context.Background(), f.c.cfg.timeout, h.cl)
	if err != nil {
		return opErr("write", f.path, err)
	}
	if err := f.c.status(r, "write", f.path); err != nil {
		return fmt.Errorf("sftp: write at offset %d: %w", h.off, err)
	}
	return nil
}

// WriteAt writes p at off (io.WriterAt), with up to MaxInFlight requests in
// flight. On failure n is the bytes before the lowest offset whose write
// failed or was not acknowledged; all of them were written. With
// OpenAppend the server ignores off.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "writeat", Path: f.path, Err: fs.ErrInvalid}
	}
	return f.writeAt(p, off)
}

func (f *File) writeAt(p []byte, off int64) (int, error) {
	c := f.c
	var queue []writeReq
	next := 0
	for next < len(p) || len(queue) > 0 {
		for next < len(p) && len(queue) < c.cfg.maxInFlight {
			cl, n, err := f.startWrite(off+int64(next), func(dst []byte) int { return copy(dst, p[next:]) })
			if err != nil {
				c.abandonWrites(queue)
				if len(queue) > 0 {
					return int(queue[0].off - off), opErr("write", f.path, err)
				}
				return next, opErr("write", f.path, err)
			}
			queue = append(queue, writeReq{cl, off + int64(next)})
			next += n
		}
		h := queue[0]
		queue = queue[1:]
		if err := f.ackWrite(h); err != nil {
			c.abandonWrites(queue)
			return int(h.off - off), err
		}
	}
	return len(p), nil
}

// Write writes p at the offset and moves it by the bytes written
// (io.Writer); see WriteAt for pipelining and errors.
func (f *File) Write(p []byte) (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.writeAt(p, f.off)
	f.off += int64(n)
	return n, err
}

// ReadFrom copies r until its EOF to the file at the offset (io.ReaderFrom),
// reading r straight into the request packets and keeping up to
// MaxInFlight writes in flight. On a failed write it returns the bytes
// before the first failed offset (the offset moves by as many) and the
// error; an error of r is returned after the writes before it were
// acknowledged.
func (f *File) ReadFrom(r io.Reader) (int64, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.c
	start := f.off
	var queue []writeReq
	var pos int64
	var readErr error
	eof := false
	for {
		if !eof && len(queue) < c.cfg.maxInFlight {
			var rerr error
			cl, n, err := f.startWrite(start+pos, func(dst []byte) int {
				var n int
				n, rerr = io.ReadFull(r, dst)
				return n
			})
			if err != nil {
				c.abandonWrites(queue)
				done := pos
				if len(queue) > 0 {
					done = queue[0].off - start
				}
				f.off = start + done
				return done, opErr("write", f.path, err)
			}
			if n > 0 {
				queue = append(queue, writeReq{cl, start + pos})
				pos += int64(n)
			}
			switch {
			case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
				eof = true
			case rerr != nil:
				eof, readErr = true, rerr
			}
			continue
		}
		if len(queue) == 0 {
			f.off = start + pos
			return pos, readErr
		}
		h := queue[0]
		queue = queue[1:]
		if err := f.ackWrite(h); err != nil {
			c.abandonWrites(queue)
			f.off = h.off
			return h.off - start, err
		}
	}
}

var _ interface {
	io.Reader
	io.Writer
	io.Seeker
	io.ReaderAt
	io.WriterAt
	io.ReaderFrom
	io.WriterTo
	io.Closer
} = (*File)(nil)
