package sftp

import (
	"context"
	"io"
	"io/fs"
)

// FS returns the server's file tree as an fs.FS rooted at "/": the fs path
// "home/u/f" is the remote "/home/u/f" and "." is "/". It also implements
// fs.StatFS, fs.ReadDirFS and fs.ReadFileFS, so fs.WalkDir, fs.Glob,
// http.FS and template.ParseFS work on a remote tree. Its methods take no
// ctx: their waits are bounded as File's are (the Timeout option,
// Client.Close). Errors are *fs.PathError with the fs path, wrapping the
// *StatusError (so errors.Is(err, fs.ErrNotExist) works).
func (c *Client) FS() fs.FS { return remoteFS{c} }

type remoteFS struct{ c *Client }

var (
	_ fs.StatFS     = remoteFS{}
	_ fs.ReadDirFS  = remoteFS{}
	_ fs.ReadFileFS = remoteFS{}
)

func (r remoteFS) remote(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return "/", nil
	}
	return "/" + name, nil
}

// ctx is the context of one FS call: the Timeout option bounds it whole.
func (r remoteFS) ctx() (context.Context, context.CancelFunc) {
	if r.c.cfg.timeout > 0 {
		return context.WithTimeout(context.Background(), r.c.cfg.timeout)
	}
	return context.Background(), func() {}
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

func (r remoteFS) Open(name string) (fs.File, error) {
	p, err := r.remote("open", name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := r.ctx()
	defer cancel()
	m, err := r.c.Metadata(ctx, p)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	m.name = baseName(p)
	if name == "." {
		m.name = "."
	}
	if m.IsDir() {
		return &fsDir{fs: r, name: name, path: p, info: m}, nil
	}
	f, err := r.c.Open(ctx, p, OpenReadOnly, 0)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	return &fsFile{File: f, info: m}, nil
}

func (r remoteFS) Stat(name string) (fs.FileInfo, error) {
	p, err := r.remote("stat", name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := r.ctx()
	defer cancel()
	m, err := r.c.Metadata(ctx, p)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	if name == "." {
		m.name = "."
	}
	return m, nil
}

func (r remoteFS) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := r.remote("readdir", name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := r.ctx()
	defer cancel()
	ms, err := r.c.ReadDir(ctx, p)
	out := make([]fs.DirEntry, len(ms))
	for i, m := range ms {
		out[i] = fs.FileInfoToDirEntry(m)
	}
	if err != nil {
		return out, pathErr("readdir", name, err)
	}
	return out, nil
}

func (r remoteFS) ReadFile(name string) ([]byte, error) {
	p, err := r.remote("readfile", name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := r.ctx()
	defer cancel()
	f, err := r.c.Open(ctx, p, OpenReadOnly, 0)
	if err != nil {
		return nil, pathErr("readfile", name, err)
	}
	defer f.Close()
	var b []byte
	if m, err := f.Metadata(ctx); err == nil && m.HasSize() && m.Size() < 1<<30 {
		b = make([]byte, 0, m.Size()+1)
	}
	w := &appendWriter{b: b}
	if _, err := f.WriteTo(w); err != nil {
		return nil, pathErr("readfile", name, err)
	}
	return w.b, nil
}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// fsFile is a regular file opened through FS.
type fsFile struct {
	*File
	info Metadata
}

func (f *fsFile) Stat() (fs.FileInfo, error) { return f.info, nil }

// fsDir is a directory opened through FS; its handle is opened on the
// first ReadDir.
type fsDir struct {
	fs   remoteFS
	name string
	path string
	info Metadata
	dir  *Dir
	done bool
}

func (d *fsDir) Stat() (fs.FileInfo, error) { return d.info, nil }

func (d *fsDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: fs.ErrInvalid}
}

func (d *fsDir) Close() error {
	if d.dir != nil {
		return d.dir.Close()
	}
	return nil
}

func (d *fsDir) ReadDir(n int) ([]fs.DirEntry, error) {
	ctx, cancel := d.fs.ctx()
	defer cancel()
	if d.done {
		if n > 0 {
			return nil, io.EOF
		}
		return nil, nil
	}
	if d.dir == nil {
		dir, err := d.fs.c.OpenDir(ctx, d.path)
		if err != nil {
			return nil, pathErr("readdir", d.name, err)
		}
		d.dir = dir
	}
	var out []fs.DirEntry
	for n <= 0 || len(out) < n {
		m, err := d.dir.Next(ctx)
		if err == io.EOF {
			d.done = true
			if n > 0 && len(out) == 0 {
				return nil, io.EOF
			}
			return out, nil
		}
		if err != nil {
			return out, pathErr("readdir", d.name, err)
		}
		out = append(out, fs.FileInfoToDirEntry(m))
	}
	return out, nil
}
