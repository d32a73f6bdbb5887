package sftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// call0 sends a request answered by a STATUS and returns its error.
func (c *Client) call0(ctx context.Context, typ byte, op, path string, build func(e *encoder)) error {
	r, err := c.roundTrip(ctx, 0, typ, build)
	if err != nil {
		return opErr(op, path, err)
	}
	return c.status(r, op, path)
}

// extended sends an SSH_FXP_EXTENDED request for ext, which the server must
// have announced, and returns the EXTENDED_REPLY (a STATUS OK gives an
// empty result with typ fxpStatus).
func (c *Client) extended(ctx context.Context, ext, op, path string, build func(e *encoder)) (result, error) {
	return c.extendedAs(ctx, fxpExtendedReply, ext, op, path, build)
}

// extendedAs is extended for replies of type want (OpenSSH answers
// home-directory and expand-path@openssh.com with an SSH_FXP_NAME).
func (c *Client) extendedAs(ctx context.Context, want byte, ext, op, path string, build func(e *encoder)) (result, error) {
	if _, ok := c.exts[ext]; !ok {
		return result{}, unsupported(op, path, ext)
	}
	r, err := c.roundTrip(ctx, 0, fxpExtended, func(e *encoder) {
		e.str(ext)
		if build != nil {
			build(e)
		}
	})
	if err != nil {
		return result{}, opErr(op, path, err)
	}
	if r.typ == fxpStatus {
		if err := c.status(r, op, path); err != nil {
			return result{}, err
		}
		return result{typ: fxpStatus}, nil
	}
	if r.typ != want {
		c.recycle(r)
		return result{}, c.fail(fmt.Errorf("%w: %s answered with packet type %d", ErrProtocol, op, r.typ))
	}
	return r, nil
}

// ext0 sends an extended request answered by a STATUS.
func (c *Client) ext0(ctx context.Context, ext, op, path string, build func(e *encoder)) error {
	r, err := c.extended(ctx, ext, op, path, build)
	if err != nil {
		return err
	}
	if r.typ != fxpStatus {
		c.recycle(r)
		return c.fail(fmt.Errorf("%w: %s answered with an EXTENDED_REPLY", ErrProtocol, op))
	}
	return nil
}

// markExists makes a FAILURE of a request that creates path match
// fs.ErrExist when path does exist: SFTP v3 has no status for that.
func (c *Client) markExists(ctx context.Context, err error, path string) error {
	var se *StatusError
	if errors.As(err, &se) && se.Code == StatusFailure {
		if _, lerr := c.SymlinkMetadata(ctx, path); lerr == nil {
			se.exists = true
		}
	}
	return err
}

// names sends a request answered by a NAME and returns its entries.
func (c *Client) names(ctx context.Context, timeout time.Duration, typ byte, op, path string, build func(e *encoder)) ([]nameEntry, error) {
	r, err := c.roundTrip(ctx, timeout, typ, build)
	if err != nil {
		return nil, opErr(op, path, err)
	}
	if err := c.expect(r, fxpName, op, path); err != nil {
		return nil, err
	}
	defer c.recycle(r)
	ents, err := decodeNames(r.body)
	if err != nil {
		return nil, c.fail(err)
	}
	return ents, nil
}

// name1 is names for requests answered by exactly one name.
func (c *Client) name1(ctx context.Context, typ byte, op, path string, build func(e *encoder)) (nameEntry, error) {
	ents, err := c.names(ctx, 0, typ, op, path, build)
	if err != nil {
		return nameEntry{}, err
	}
	if len(ents) != 1 {
		return nameEntry{}, c.fail(fmt.Errorf("%w: %s answered with %d names instead of 1", ErrProtocol, op, len(ents)))
	}
	return ents[0], nil
}

// handle sends a request answered by a HANDLE.
func (c *Client) handle(ctx context.Context, typ byte, op, path string, build func(e *encoder)) (string, error) {
	r, err := c.roundTrip(ctx, 0, typ, build)
	if err != nil {
		return "", opErr(op, path, err)
	}
	if err := c.expect(r, fxpHandle, op, path); err != nil {
		return "", err
	}
	defer c.recycle(r)
	d := decoder{b: r.body}
	h := d.bytes()
	if d.bad || len(h) > maxHandle {
		return "", c.fail(fmt.Errorf("%w: handle of %s: malformed or over %d bytes", ErrProtocol, op, maxHandle))
	}
	return string(h), nil
}

// attrsOf sends a request answered by an ATTRS.
func (c *Client) attrsOf(ctx context.Context, timeout time.Duration, typ byte, op, path string, build func(e *encoder)) (fileAttrs, error) {
	r, err := c.roundTrip(ctx, timeout, typ, build)
	if err != nil {
		return fileAttrs{}, opErr(op, path, err)
	}
	if err := c.expect(r, fxpAttrs, op, path); err != nil {
		return fileAttrs{}, err
	}
	defer c.recycle(r)
	d := decoder{b: r.body}
	a := d.attrs()
	if err := d.err("attributes"); err != nil {
		return fileAttrs{}, c.fail(err)
	}
	a.ext = append([]Extension(nil), a.ext...)
	return a, nil
}

// OpenFlags selects how Open opens a file (SSH_FXF_* bits). The zero value
// opens for reading only.
type OpenFlags uint32

// The open flags; combine one of OpenReadOnly, OpenWriteOnly, OpenReadWrite
// with any of the others.
const (
	OpenReadOnly  OpenFlags = 0x01
	OpenWriteOnly OpenFlags = 0x02
	OpenReadWrite OpenFlags = OpenReadOnly | OpenWriteOnly
	OpenAppend    OpenFlags = 0x04 // writes go to the end (the server ignores offsets)
	OpenCreate    OpenFlags = 0x08 // create the file if it does not exist, with Open's mode
	OpenTruncate  OpenFlags = 0x10 // truncate an existing file; needs OpenCreate in v3
	OpenExclusive OpenFlags = 0x20 // with OpenCreate: fail (fs.ErrExist) if it exists
)

// Open opens the remote file path (SSH_FXP_OPEN). mode is the permission of
// a file that OpenCreate creates (the server's umask may apply); it is not
// sent otherwise. OpenTruncate without OpenCreate gets OpenCreate added, as
// v3 servers ignore it otherwise. It waits until ctx ends. Errors are
// *StatusError (fs.ErrNotExist, fs.ErrPermission, fs.ErrExist for
// OpenExclusive) or the Client's end.
func (c *Client) Open(ctx context.Context, path string, flags OpenFlags, mode fs.FileMode) (*File, error) {
	if flags&OpenReadWrite == 0 {
		flags |= OpenReadOnly
	}
	if flags&OpenTruncate != 0 {
		flags |= OpenCreate
	}
	h, err := c.handle(ctx, fxpOpen, "open", path, func(e *encoder) {
		e.str(path)
		e.u32(uint32(flags))
		if flags&OpenCreate != 0 {
			m := mode
			e.attrs(&SetAttributes{Mode: &m})
		} else {
			e.u32(0)
		}
	})
	if err != nil {
		if flags&OpenExclusive != 0 {
			err = c.markExists(ctx, err, path)
		}
		return nil, err
	}
	return &File{c: c, path: path, handle: h, append: flags&OpenAppend != 0}, nil
}

// Create creates or truncates path for writing with mode 0o644, as
// os.Create does: Open with OpenWriteOnly|OpenCreate|OpenTruncate.
func (c *Client) Create(ctx context.Context, path string) (*File, error) {
	return c.Open(ctx, path, OpenWriteOnly|OpenCreate|OpenTruncate, 0o644)
}

// CreateDir creates the directory path with permission mode (SSH_FXP_MKDIR;
// the server's umask may apply). An existing path gives an error matching
// fs.ErrExist.
func (c *Client) CreateDir(ctx context.Context, path string, mode fs.FileMode) error {
	m := mode
	err := c.call0(ctx, fxpMkdir, "mkdir", path, func(e *encoder) {
		e.str(path)
		e.attrs(&SetAttributes{Mode: &m})
	})
	return c.markExists(ctx, err, path)
}

// Metadata returns the attributes of path, following symlinks
// (SSH_FXP_STAT). Name is path's last element.
func (c *Client) Metadata(ctx context.Context, path string) (Metadata, error) {
	a, err := c.attrsOf(ctx, 0, fxpStat, "stat", path, func(e *encoder) { e.str(path) })
	if err != nil {
		return Metadata{}, err
	}
	return newMetadata(baseName(path), "", a), nil
}

// SymlinkMetadata returns the attributes of path itself, not of a symlink's
// target (SSH_FXP_LSTAT).
func (c *Client) SymlinkMetadata(ctx context.Context, path string) (Metadata, error) {
	a, err := c.attrsOf(ctx, 0, fxpLstat, "lstat", path, func(e *encoder) { e.str(path) })
	if err != nil {
		return Metadata{}, err
	}
	return newMetadata(baseName(path), "", a), nil
}

// SetMetadata changes the attributes of path that a sets (SSH_FXP_SETSTAT);
// see SetAttributes.
func (c *Client) SetMetadata(ctx context.Context, path string, a SetAttributes) error {
	if err := a.check("setstat", path); err != nil {
		return err
	}
	return c.call0(ctx, fxpSetstat, "setstat", path, func(e *encoder) {
		e.str(path)
		e.attrs(&a)
	})
}

// Chmod sets the permission bits of path (and setuid, setgid, sticky).
func (c *Client) Chmod(ctx context.Context, path string, mode fs.FileMode) error {
	return c.SetMetadata(ctx, path, SetAttributes{Mode: &mode})
}

// Chown sets the numeric owner and group of path.
func (c *Client) Chown(ctx context.Context, path string, uid, gid int) error {
	if uid < 0 || gid < 0 || uint64(uid) > 1<<32-1 || uint64(gid) > 1<<32-1 {
		return &fs.PathError{Op: "chown", Path: path, Err: fs.ErrInvalid}
	}
	u, g := uint32(uid), uint32(gid)
	return c.SetMetadata(ctx, path, SetAttributes{UID: &u, GID: &g})
}

// Chtimes sets the access and modification times of path, to the second
// (v3 sends 32-bit seconds).
func (c *Client) Chtimes(ctx context.Context, path string, atime, mtime time.Time) error {
	return c.SetMetadata(ctx, path, SetAttributes{AccessTime: &atime, ModTime: &mtime})
}

// Truncate sets the size of path.
func (c *Client) Truncate(ctx context.Context, path string, size int64) error {
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: path, Err: fs.ErrInvalid}
	}
	s := uint64(size)
	return c.SetMetadata(ctx, path, SetAttributes{Size: &s})
}

// Rename renames from to to. With posix-rename@openssh.com (OpenSSH and
// most servers) it replaces an existing to, as rename(2) does; without it,
// SSH_FXP_RENAME is used, which fails with fs.ErrExist when to exists.
func (c *Client) Rename(ctx context.Context, from, to string) error {
	if _, ok := c.exts["posix-rename@openssh.com"]; ok {
		return c.ext0(ctx, "posix-rename@openssh.com", "rename", from, func(e *encoder) {
			e.str(from)
			e.str(to)
		})
	}
	err := c.call0(ctx, fxpRename, "rename", from, func(e *encoder) {
		e.str(from)
		e.str(to)
	})
	return c.markExists(ctx, err, to)
}

// RemoveFile removes the file (or symlink) path (SSH_FXP_REMOVE).
func (c *Client) RemoveFile(ctx context.Context, path string) error {
	return c.call0(ctx, fxpRemove, "remove", path, func(e *encoder) { e.str(path) })
}

// RemoveDir removes the empty directory path (SSH_FXP_RMDIR).
func (c *Client) RemoveDir(ctx context.Context, path string) error {
	return c.call0(ctx, fxpRmdir, "rmdir", path, func(e *encoder) { e.str(path) })
}

// ReadLink returns the target of the symlink path (SSH_FXP_READLINK).
func (c *Client) ReadLink(ctx context.Context, path string) (string, error) {
	n, err := c.name1(ctx, fxpReadlink, "readlink", path, func(e *encoder) { e.str(path) })
	return n.name, err
}

// Symlink creates the symlink dest pointing to target (SSH_FXP_SYMLINK).
// The arguments go out in OpenSSH's order (target first), which OpenSSH's
// sftp-server and the servers compatible with it expect; the draft names
// them the other way round.
func (c *Client) Symlink(ctx context.Context, target, dest string) error {
	err := c.call0(ctx, fxpSymlink, "symlink", dest, func(e *encoder) {
		e.str(target)
		e.str(dest)
	})
	return c.markExists(ctx, err, dest)
}

// Hardlink creates newname as a hard link to oldname
// (hardlink@openssh.com). Without the extension it fails with an error
// matching errors.ErrUnsupported.
func (c *Client) Hardlink(ctx context.Context, oldname, newname string) error {
	err := c.ext0(ctx, "hardlink@openssh.com", "hardlink", newname, func(e *encoder) {
		e.str(oldname)
		e.str(newname)
	})
	return c.markExists(ctx, err, newname)
}

// Canonicalize returns the absolute, canonical form of path
// (SSH_FXP_REALPATH); "." is the user's start directory.
func (c *Client) Canonicalize(ctx context.Context, path string) (string, error) {
	n, err := c.name1(ctx, fxpRealpath, "realpath", path, func(e *encoder) { e.str(path) })
	return n.name, err
}

// HomeDir returns the user's home directory: by expand-path@openssh.com
// of "~" or by home-directory (with the session's user name) when the
// server offers one, else the REALPATH of ".", the directory the server
// starts in, which is the home directory on most servers.
func (c *Client) HomeDir(ctx context.Context) (string, error) {
	var r result
	var err error
	switch {
	case c.HasExtension("expand-path@openssh.com"):
		r, err = c.extendedAs(ctx, fxpName, "expand-path@openssh.com", "expand-path", "~", func(e *encoder) { e.str("~") })
	case c.HasExtension("home-directory") && c.user != "":
		r, err = c.extendedAs(ctx, fxpName, "home-directory", "home-directory", c.user, func(e *encoder) { e.str(c.user) })
	default:
		return c.Canonicalize(ctx, ".")
	}
	if err != nil {
		return "", err
	}
	if r.typ != fxpName {
		return "", c.fail(fmt.Errorf("%w: home directory answered OK without a name", ErrProtocol))
	}
	defer c.recycle(r)
	ents, err := decodeNames(r.body)
	if err != nil || len(ents) != 1 {
		if err == nil {
			err = fmt.Errorf("%w: home directory answered with %d names", ErrProtocol, len(ents))
		}
		return "", c.fail(err)
	}
	return ents[0].name, nil
}

// StatVFS is a file system's statistics, as statvfs(3) gives them
// (statvfs@openssh.com).
type StatVFS struct {
	BlockSize, FragmentSize             uint64 // f_bsize, f_frsize
	Blocks, BlocksFree, BlocksAvailable uint64 // in FragmentSize units
	Files, FilesFree, FilesAvailable    uint64 // inodes
	FSID, Flag, NameMax                 uint64 // Flag: 1 read-only, 2 nosuid
}

// TotalSpace is the file system's size in bytes.
func (s *StatVFS) TotalSpace() uint64 { return s.Blocks * s.FragmentSize }

// FreeSpace is the bytes available to the user.
func (s *StatVFS) FreeSpace() uint64 { return s.BlocksAvailable * s.FragmentSize }

// StatVFS returns the statistics of the file system holding path
// (statvfs@openssh.com; errors.ErrUnsupported without it).
func (c *Client) StatVFS(ctx context.Context, path string) (*StatVFS, error) {
	r, err := c.extended(ctx, "statvfs@openssh.com", "statvfs", path, func(e *encoder) { e.str(path) })
	if err != nil {
		return nil, err
	}
	if r.typ != fxpExtendedReply {
		return nil, c.fail(fmt.Errorf("%w: statvfs answered OK without data", ErrProtocol))
	}
	defer c.recycle(r)
	return decodeStatVFS(r.body, c)
}

func decodeStatVFS(b []byte, c *Client) (*StatVFS, error) {
	d := decoder{b: b}
	s := &StatVFS{BlockSize: d.u64(), FragmentSize: d.u64(), Blocks: d.u64(), BlocksFree: d.u64(),
		BlocksAvailable: d.u64(), Files: d.u64(), FilesFree: d.u64(), FilesAvailable: d.u64(),
		FSID: d.u64(), Flag: d.u64(), NameMax: d.u64()}
	if err := d.err("statvfs reply"); err != nil {
		return nil, c.fail(err)
	}
	return s, nil
}

// ReadDir returns the entries of the directory path, sorted by name,
// without "." and "..", as os.ReadDir does. It collects at most
// MaxReadDirEntries entries; beyond that it returns those with an error
// matching ErrTooManyEntries. Each READDIR answer is bounded by the packet
// limit, so a hostile server cannot make one answer hold more.
func (c *Client) ReadDir(ctx context.Context, path string) ([]Metadata, error) {
	d, err := c.OpenDir(ctx, path)
	if err != nil {
		return nil, err
	}
	var out []Metadata
	for {
		m, err := d.Next(ctx)
		if err != nil {
			cerr := d.closeCtx(ctx)
			if errors.Is(err, io.EOF) {
				sortMetadata(out)
				return out, cerr
			}
			sortMetadata(out)
			return out, err
		}
		if len(out) >= c.cfg.maxEntries {
			_ = d.closeCtx(ctx)
			sortMetadata(out)
			return out, fmt.Errorf("sftp: readdir %s: %w (%d)", path, ErrTooManyEntries, c.cfg.maxEntries)
		}
		out = append(out, m)
	}
}
