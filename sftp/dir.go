package sftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Dir is an open remote directory (SSH_FXP_OPENDIR), read entry by entry
// with Next. It is safe for concurrent use; entries come in the server's
// order.
type Dir struct {
	c      *Client
	path   string
	handle string

	mu     sync.Mutex
	buf    []nameEntry // entries of the last READDIR not yet returned
	eof    bool
	closed bool
}

// OpenDir opens the directory path for reading.
func (c *Client) OpenDir(ctx context.Context, path string) (*Dir, error) {
	h, err := c.handle(ctx, fxpOpendir, "opendir", path, func(e *encoder) { e.str(path) })
	if err != nil {
		return nil, err
	}
	return &Dir{c: c, path: path, handle: h}, nil
}

// Next returns the next entry, skipping "." and "..", and io.EOF after the
// last one. An entry whose name is empty or holds a "/" or NUL (which a
// hostile server could send to make a tree copy escape its directory) is a
// protocol violation: ErrProtocol, and the Client closes. It sends one READDIR when the entries of the previous answer
// are used up, and waits for it until ctx ends. A Next given up on that way
// loses the entries of that answer (the server's cursor moved on): the Dir
// stays usable, but the listing has a gap.
func (d *Dir) Next(ctx context.Context) (Metadata, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		if d.closed {
			return Metadata{}, ErrClosed
		}
		for len(d.buf) > 0 {
			e := d.buf[0]
			d.buf = d.buf[1:]
			if e.name == "." || e.name == ".." {
				continue
			}
			if e.name == "" || strings.ContainsAny(e.name, "/\x00") {
				// A directory entry is one file name: anything else
				// would let a caller joining it to the directory's path
				// (a tree download) write outside the tree.
				d.buf = nil
				return Metadata{}, d.c.fail(fmt.Errorf("%w: directory entry %q of %s is not a file name", ErrProtocol, e.name, d.path))
			}
			return newMetadata(e.name, e.long, e.attrs), nil
		}
		if d.eof {
			return Metadata{}, io.EOF
		}
		ents, err := d.c.names(ctx, 0, fxpReaddir, "readdir", d.path, func(e *encoder) { e.str(d.handle) })
		if err != nil {
			var se *StatusError
			if errors.As(err, &se) && se.Code == StatusEOF {
				d.eof = true
				continue
			}
			return Metadata{}, err
		}
		if len(ents) == 0 {
			// A server that answers with empty lists forever would
			// loop us; treat an empty answer as the end.
			d.eof = true
		}
		d.buf = ents
	}
}

// Close releases the directory's handle (SSH_FXP_CLOSE). Its wait is
// bounded by the Timeout option and by Client.Close. It is idempotent.
func (d *Dir) Close() error { return d.closeCtx(context.Background()) }

func (d *Dir) closeCtx(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.buf = nil
	d.mu.Unlock()
	return d.c.closeHandle(ctx, d.c.cfg.timeout, d.handle, "closedir", d.path)
}

// closeHandle sends SSH_FXP_CLOSE for h.
func (c *Client) closeHandle(ctx context.Context, timeout time.Duration, h, op, path string) error {
	r, err := c.roundTrip(ctx, timeout, fxpClose, func(e *encoder) { e.str(h) })
	if err != nil {
		return opErr(op, path, err)
	}
	return c.status(r, op, path)
}

func sortMetadata(m []Metadata) {
	slices.SortFunc(m, func(a, b Metadata) int { return strings.Compare(a.name, b.name) })
}
