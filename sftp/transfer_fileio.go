package sftp

import (
	"context"
	"fmt"
)

// The File methods below are what Get and Put need beyond File's io methods: one chunk read or
// written with a ctx, so that a transfer ends when its ctx does even on the Client the caller
// owns (whose pending io calls only Close, the Timeout option or the connection's end would
// otherwise end), and a Close that waits no longer than a ctx. A worker calls them with at most
// a few requests' worth of data; the transfer's concurrency comes from its workers, one request
// in flight each.

// readChunk reads len(p) bytes at off, one request at a time, re-asking after a short read. It
// returns fewer bytes only with an error: io.EOF at the end of the file, ctx's error, or what
// ended the Client.
func (f *File) readChunk(ctx context.Context, p []byte, off int64) (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	c := f.c
	done := 0
	for done < len(p) {
		n := min(c.readLen, len(p)-done)
		at := off + int64(done)
		cl, err := c.startInto(ctx, c.cfg.timeout, fxpRead, nil, p[done:done+n], func(e *encoder) {
			e.str(f.handle)
			e.u64(uint64(at))
			e.u32(uint32(n))
		})
		if err != nil {
			return done, opErr("read", f.path, err)
		}
		r, err := c.wait(ctx, c.cfg.timeout, cl)
		if err != nil {
			return done, opErr("read", f.path, err)
		}
		b, err := c.data(r, n, f.path)
		if err != nil {
			return done, err
		}
		if r.direct {
			done += r.n
			continue
		}
		done += copy(p[done:], b)
		c.recycle(r)
	}
	return done, nil
}

// writeChunk writes p at off, one request at a time, each acknowledged before the next. On
// failure it returns the bytes acknowledged, all of them written.
func (f *File) writeChunk(ctx context.Context, p []byte, off int64) (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	c := f.c
	done := 0
	for done < len(p) {
		n := min(c.writeLen, len(p)-done)
		at := off + int64(done)
		data := p[done : done+n]
		cl, err := c.start(ctx, c.cfg.timeout, fxpWrite, c.getBuf(), func(e *encoder) {
			e.str(f.handle)
			e.u64(uint64(at))
			e.bytes(data)
		})
		if err != nil {
			return done, opErr("write", f.path, err)
		}
		r, err := c.wait(ctx, c.cfg.timeout, cl)
		if err != nil {
			return done, opErr("write", f.path, err)
		}
		if err := c.status(r, "write", f.path); err != nil {
			return done, fmt.Errorf("sftp: write at offset %d: %w", at, err)
		}
		done += n
	}
	return done, nil
}

// closeCtx is Close waiting at most until ctx ends.
func (f *File) closeCtx(ctx context.Context) error {
	if f.closed.Swap(true) {
		return nil
	}
	return f.c.closeHandle(ctx, f.c.cfg.timeout, f.handle, "close", f.path)
}

// sibling opens another sftp channel on the Client's Session with the Client's options, for a
// transfer spread over several channels.
func (c *Client) sibling(ctx context.Context) (*Client, error) {
	if c.sess == nil {
		return nil, ErrClosed
	}
	cfg := c.cfg
	return New(ctx, c.sess, func(x *config) { *x = cfg })
}
