package sftp

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// entry is what a transfer needs to know of a file on either side.
type entry struct {
	name         string
	size         int64
	mode         fs.FileMode // with type bits
	mtime, atime time.Time
}

// ioFunc reads or writes one chunk at an offset, as ReadAt and WriteAt do, giving up when ctx
// is done.
type ioFunc func(ctx context.Context, p []byte, off int64) (int, error)

// handles are one open file, opened once per channel ("lane") it is used on; a local file has
// one lane. close closes every handle and returns the first error.
type handles struct {
	read  []ioFunc
	write []ioFunc
	sync  func(ctx context.Context) error // flushes written data to stable storage; nil for reads
	close func(ctx context.Context) error
}

// endpoint is one side of a transfer: the local file system or the sftp server. Get copies
// from the remote endpoint to the local one, Put the other way; the copy logic is the same.
type endpoint interface {
	stat(ctx context.Context, p string) (entry, error)
	lstat(ctx context.Context, p string) (entry, error)
	readDir(ctx context.Context, p string) ([]entry, error)
	readLink(ctx context.Context, p string) (string, error)
	symlink(ctx context.Context, target, p string) error
	mkdir(ctx context.Context, p string, perm fs.FileMode) error
	// openRead opens p for reading on up to lanes channels.
	openRead(ctx context.Context, p string, lanes int) (*handles, error)
	// create creates p exclusively (fs.ErrExist if it exists) and opens it for writing on up to
	// lanes channels.
	create(ctx context.Context, p string, perm fs.FileMode, lanes int) (*handles, error)
	// openWrite opens the existing p for writing, without truncating it.
	openWrite(ctx context.Context, p string, lanes int) (*handles, error)
	truncate(ctx context.Context, p string, size int64) error
	// rename renames from to to, replacing to.
	rename(ctx context.Context, from, to string) error
	remove(ctx context.Context, p string) error
	setTimes(ctx context.Context, p string, atime, mtime time.Time) error
	chmod(ctx context.Context, p string, perm fs.FileMode) error
	// chunk is the bytes one request should carry when reading (or writing) this side, or 0 for
	// no preference.
	chunk(write bool) int
	// lanes returns how many channels a file of size bytes should use, opening them if need be.
	lanes(ctx context.Context, size int64, cfg *transferConfig) int
	join(dir, name string) string
	split(p string) (dir, name string)
	base(p string) string // "" for a root
}

// localEndpoint is the local file system, through package os.
type localEndpoint struct{}

func localEntry(fi fs.FileInfo) entry {
	return entry{name: fi.Name(), size: fi.Size(), mode: fi.Mode(), mtime: fi.ModTime(), atime: accessTime(fi)}
}

func (localEndpoint) stat(_ context.Context, p string) (entry, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return entry{}, err
	}
	return localEntry(fi), nil
}

func (localEndpoint) lstat(_ context.Context, p string) (entry, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return entry{}, err
	}
	return localEntry(fi), nil
}

func (localEndpoint) readDir(_ context.Context, p string) ([]entry, error) {
	des, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(des))
	for _, de := range des {
		fi, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, localEntry(fi))
	}
	return out, nil
}

func (localEndpoint) readLink(_ context.Context, p string) (string, error) { return os.Readlink(p) }

func (localEndpoint) symlink(_ context.Context, target, p string) error { return os.Symlink(target, p) }

func (localEndpoint) mkdir(_ context.Context, p string, perm fs.FileMode) error {
	return os.Mkdir(p, perm)
}

func localHandles(f *os.File, write bool) *handles {
	h := &handles{}
	if write {
		h.write = []ioFunc{func(_ context.Context, b []byte, off int64) (int, error) { return f.WriteAt(b, off) }}
		h.sync = func(context.Context) error { return f.Sync() }
	} else {
		h.read = []ioFunc{func(_ context.Context, b []byte, off int64) (int, error) { return f.ReadAt(b, off) }}
	}
	h.close = func(context.Context) error { return f.Close() }
	return h
}

func (localEndpoint) openRead(_ context.Context, p string, _ int) (*handles, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	return localHandles(f, false), nil
}

func (localEndpoint) create(_ context.Context, p string, perm fs.FileMode, _ int) (*handles, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, err
	}
	return localHandles(f, true), nil
}

func (localEndpoint) openWrite(_ context.Context, p string, _ int) (*handles, error) {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	return localHandles(f, true), nil
}

func (localEndpoint) truncate(_ context.Context, p string, size int64) error {
	return os.Truncate(p, size)
}

func (localEndpoint) rename(_ context.Context, from, to string) error { return os.Rename(from, to) }

func (localEndpoint) remove(_ context.Context, p string) error { return os.Remove(p) }

func (localEndpoint) setTimes(_ context.Context, p string, atime, mtime time.Time) error {
	return os.Chtimes(p, atime, mtime)
}

func (localEndpoint) chmod(_ context.Context, p string, perm fs.FileMode) error {
	return os.Chmod(p, perm)
}

func (localEndpoint) chunk(bool) int { return 0 }

func (localEndpoint) lanes(context.Context, int64, *transferConfig) int { return 1 }

func (localEndpoint) join(dir, name string) string { return filepath.Join(dir, name) }

func (localEndpoint) split(p string) (string, string) {
	return filepath.Dir(p), filepath.Base(p)
}

func (localEndpoint) base(p string) string {
	b := filepath.Base(p)
	if b == string(filepath.Separator) || b == "." || b == ".." || filepath.VolumeName(p) == p {
		return ""
	}
	return b
}
