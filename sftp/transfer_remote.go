package sftp

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"sync"
	"time"
)

// remoteEndpoint is the sftp server, through the Client and, for large files, extra clients
// on further channels of the same Session.
type remoteEndpoint struct {
	c *Client

	mu      sync.Mutex
	extras  []*Client // opened for this transfer; closed by closeExtras
	refused bool      // the server refused one more channel: do not ask again
}

func newRemoteEndpoint(c *Client) *remoteEndpoint { return &remoteEndpoint{c: c} }

func remoteEntry(m Metadata) entry {
	e := entry{name: m.Name(), size: m.Size(), mode: m.Mode(), mtime: m.ModTime(), atime: m.AccessTime()}
	if !m.HasSize() {
		e.size = -1 // refused for a regular file: a copy must know where it ends
	}
	return e
}

// closeExtras closes the channels the transfer opened.
func (r *remoteEndpoint) closeExtras() {
	r.mu.Lock()
	extras := r.extras
	r.extras = nil
	r.mu.Unlock()
	for _, c := range extras {
		_ = c.Close()
	}
}

func (r *remoteEndpoint) clients() []*Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Client{r.c}, r.extras...)
}

func (r *remoteEndpoint) chunk(write bool) int {
	rd, wr := r.c.RequestSizes()
	if write {
		return wr
	}
	return rd
}

func (r *remoteEndpoint) lanes(ctx context.Context, size int64, cfg *transferConfig) int {
	want := cfg.channels
	if want <= 0 {
		want = defaultLanes(size, r.c.rtt)
	}
	want = min(want, maxChannels)
	// A lane needs enough of the file to be worth its round trips.
	want = int(min(int64(want), max(size/transferChunk, 1)))
	r.mu.Lock()
	have, refused := 1+len(r.extras), r.refused
	r.mu.Unlock()
	if have >= want || refused || ctx.Err() != nil {
		return min(have, want)
	}
	// Each channel costs about four round trips (open, subsystem, INIT/VERSION, limits); open
	// them together.
	opened := make([]*Client, want-have)
	var wg sync.WaitGroup
	for i := range opened {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if extra, err := r.c.sibling(ctx); err == nil {
				opened[i] = extra
			}
		}()
	}
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, extra := range opened {
		if extra == nil {
			r.refused = true // OpenSSH's MaxSessions, say: go on with those we have
			continue
		}
		r.extras = append(r.extras, extra)
	}
	return min(1+len(r.extras), want)
}

func (r *remoteEndpoint) stat(ctx context.Context, p string) (entry, error) {
	m, err := r.c.Metadata(ctx, p)
	if err != nil {
		return entry{}, err
	}
	return remoteEntry(m), nil
}

func (r *remoteEndpoint) lstat(ctx context.Context, p string) (entry, error) {
	m, err := r.c.SymlinkMetadata(ctx, p)
	if err != nil {
		return entry{}, err
	}
	return remoteEntry(m), nil
}

func (r *remoteEndpoint) readDir(ctx context.Context, p string) ([]entry, error) {
	list, err := r.c.ReadDir(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(list))
	for _, m := range list {
		out = append(out, remoteEntry(m))
	}
	return out, nil
}

func (r *remoteEndpoint) readLink(ctx context.Context, p string) (string, error) {
	return r.c.ReadLink(ctx, p)
}

func (r *remoteEndpoint) symlink(ctx context.Context, target, p string) error {
	return r.c.Symlink(ctx, target, p)
}

func (r *remoteEndpoint) mkdir(ctx context.Context, p string, perm fs.FileMode) error {
	return r.c.CreateDir(ctx, p, perm)
}

// openOn opens p with flags on the first lanes clients (the first with mode, the others
// without creating).
func (r *remoteEndpoint) openOn(ctx context.Context, p string, flags OpenFlags, mode fs.FileMode, lanes int, write bool) (*handles, error) {
	cs := r.clients()
	cs = cs[:min(max(lanes, 1), len(cs))]
	var files []*File
	closeAll := func(ctx context.Context) error {
		var first error
		for _, f := range files {
			if err := f.closeCtx(ctx); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	for i, c := range cs {
		fl := flags
		if i > 0 {
			fl &^= OpenCreate | OpenExclusive | OpenTruncate
		}
		f, err := c.Open(ctx, p, fl, mode)
		if err != nil {
			if i > 0 {
				break // go on with the lanes that opened
			}
			return nil, err
		}
		files = append(files, f)
	}
	h := &handles{close: closeAll}
	if write {
		// Every lane's handle is the same file: one fsync covers them all.
		h.sync = files[0].Sync
	}
	for _, f := range files {
		if write {
			h.write = append(h.write, f.writeChunk)
		} else {
			h.read = append(h.read, f.readChunk)
		}
	}
	return h, nil
}

func (r *remoteEndpoint) openRead(ctx context.Context, p string, lanes int) (*handles, error) {
	return r.openOn(ctx, p, OpenReadOnly, 0, lanes, false)
}

func (r *remoteEndpoint) create(ctx context.Context, p string, perm fs.FileMode, lanes int) (*handles, error) {
	h, err := r.openOn(ctx, p, OpenWriteOnly|OpenCreate|OpenExclusive, perm, lanes, true)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		// sftp-server answers an exclusive create of an existing file with SSH_FX_FAILURE,
		// which says nothing; look whether the name is taken.
		if _, serr := r.c.SymlinkMetadata(ctx, p); serr == nil {
			return nil, fs.ErrExist
		}
	}
	return h, err
}

func (r *remoteEndpoint) openWrite(ctx context.Context, p string, lanes int) (*handles, error) {
	return r.openOn(ctx, p, OpenWriteOnly, 0, lanes, true)
}

func (r *remoteEndpoint) truncate(ctx context.Context, p string, size int64) error {
	return r.c.Truncate(ctx, p, size)
}

// rename replaces to. Client.Rename uses posix-rename@openssh.com when the server offers it;
// a plain SFTP v3 rename refuses an existing target (SSH_FX_FAILURE), and then the target is
// removed and the rename tried again, which leaves a moment without a target but never a
// partial one.
func (r *remoteEndpoint) rename(ctx context.Context, from, to string) error {
	err := r.c.Rename(ctx, from, to)
	if err == nil {
		return nil
	}
	var se *StatusError
	if !errors.Is(err, fs.ErrExist) && !(errors.As(err, &se) && se.Code == StatusFailure) {
		return err
	}
	if fi, serr := r.c.SymlinkMetadata(ctx, to); serr != nil || fi.IsDir() {
		return err
	}
	if rerr := r.c.RemoveFile(ctx, to); rerr != nil {
		return err
	}
	return r.c.Rename(ctx, from, to)
}

func (r *remoteEndpoint) remove(ctx context.Context, p string) error {
	return r.c.RemoveFile(ctx, p)
}

func (r *remoteEndpoint) setTimes(ctx context.Context, p string, atime, mtime time.Time) error {
	return r.c.Chtimes(ctx, p, atime, mtime)
}

func (r *remoteEndpoint) chmod(ctx context.Context, p string, perm fs.FileMode) error {
	return r.c.Chmod(ctx, p, perm)
}

func (r *remoteEndpoint) join(dir, name string) string { return path.Join(dir, name) }

func (r *remoteEndpoint) split(p string) (string, string) {
	return path.Dir(p), path.Base(p)
}

func (r *remoteEndpoint) base(p string) string {
	b := path.Base(p)
	if b == "/" || b == "." || b == ".." {
		return ""
	}
	return b
}

// defaultLanes is the number of channels a transfer of size bytes uses when Channels is not
// given, for a server whose request round trip is rtt: one channel moves one 2 MiB window per
// round trip, so it is enough until the round trip, not the CPU, is the limit. Below
// LaneRoundTrip extra channels only add work for the CPUs of both ends (on loopback four
// channels moved 30-45% less than one); above it, one more channel per LaneRoundTrip, up to
// DefaultChannels.
func defaultLanes(size int64, rtt time.Duration) int {
	if size < MultiChannelThreshold || rtt < LaneRoundTrip {
		return 1
	}
	return int(min(int64(DefaultChannels), int64(rtt/LaneRoundTrip)+1))
}
