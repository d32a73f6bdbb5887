package scp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/libssh-go/libssh/ssh"
)

// Get copies the remote file remote (with Recursive, a file or directory
// tree) to local, running "scp -f" on a new session channel of s. If local
// is an existing directory, the copy is made inside it under remote's base
// name, as scp does; otherwise local is the name of the copy, and an
// existing file there is replaced. remote must name a file or directory by
// a last element other than "." or "..".
//
// Each file is written to a temporary file beside its target
// (".NAME.scp-RANDOM") and renamed to NAME only after all its announced
// bytes arrived and the server confirmed them; on failure the temporary
// file is removed. Directories of a tree are created as their records
// arrive, so a failed tree copy may leave some complete files and
// directories, never a partial file. Only the name asked for is accepted at
// the top level (CVE-2019-6111), names inside a tree must be single path
// elements, and data beyond an announced size is a protocol error.
//
// Get blocks until the copy is complete, ctx is done or an error occurs.
// Every error is an *Error (see the package documentation for what it
// wraps).
func Get(ctx context.Context, s *ssh.Session, remote, local string, opts ...Option) error {
	c := buildConfig(opts)
	if err := checkSendable(remote); err != nil {
		return wrap("get", remote, &nameError{msg: "the remote name is empty or holds a newline or NUL"})
	}
	want := sentName(remote)
	if want == "" || want == "." || want == ".." {
		return wrap("get", remote, &nameError{msg: "the remote path does not end in a file or directory name"})
	}
	if err := ctx.Err(); err != nil {
		return wrap("get", remote, err)
	}
	ss, err := start(ctx, s, command("-f", c, remote))
	if err != nil {
		return wrap("get", remote, err)
	}
	defer ss.close()
	g := &getter{ss: ss, c: c, want: want, local: local}
	return wrap("get", remote, g.run())
}

// maxDepth bounds how deep a tree from the server may nest.
const maxDepth = 256

// sentName is the name a remote scp sends for path: what follows its last
// "/", once trailing slashes are removed.
func sentName(p string) string {
	p = strings.TrimRight(p, "/")
	return p[strings.LastIndexByte(p, '/')+1:]
}

// getter is the sink side of one Get.
type getter struct {
	ss    *session
	c     config
	want  string // the top-level name the server may send
	local string

	done, total int64
	warning     error // the first \x01 the server sent
}

// dirFrame is a directory being received: its local path and the times to
// set once its E record arrives.
type dirFrame struct {
	path  string
	times *timeRecord
	mode  uint32
}

func (g *getter) run() error {
	ss := g.ss
	if err := ss.ack(); err != nil {
		return err
	}
	var stack []dirFrame
	var times *timeRecord
	topDone := false
	for {
		kind, err := ss.r.ReadByte()
		if err == io.EOF && ss.ctx.Err() == nil {
			if len(stack) > 0 || times != nil {
				return ErrTruncated
			}
			if !topDone {
				if g.warning != nil {
					return g.warning
				}
				if err := ss.wait(); err != nil {
					return err
				}
				return ErrTruncated
			}
			if g.warning != nil {
				return g.warning
			}
			return ss.wait()
		}
		if err != nil {
			return ss.ioErr(err)
		}
		switch kind {
		case 1, 2:
			msg, err := ss.readLine()
			if err != nil {
				return err
			}
			re := &remoteErr{msg: cleanMessage(msg), fatal: kind == 2}
			if re.fatal {
				return re
			}
			if g.warning == nil {
				g.warning = re
			}
			continue
		}
		line, err := ss.readLine()
		if err != nil {
			return err
		}
		if topDone && len(stack) == 0 {
			return protoErr("record %q after the requested file", string(kind)+line)
		}
		switch kind {
		case 'T':
			if times != nil {
				return protoErr("two time records in a row")
			}
			tr, err := parseTime(line)
			if err != nil {
				return err
			}
			times = &tr
			if err := ss.ack(); err != nil {
				return err
			}
		case 'C', 'D':
			rec, err := parseFile(kind, line)
			if err != nil {
				return err
			}
			dst, err := g.target(stack, rec.name, kind == 'D')
			if err != nil {
				return err
			}
			if kind == 'D' {
				if !g.c.recursive {
					return protoErr("directory record %q without -r", string(kind)+line)
				}
				if len(stack) >= maxDepth {
					return protoErr("directories nested deeper than %d", maxDepth)
				}
				if err := g.mkdir(dst, rec.mode); err != nil {
					return err
				}
				stack = append(stack, dirFrame{path: dst, times: times, mode: rec.mode})
				times = nil
				if err := ss.ack(); err != nil {
					return err
				}
				continue
			}
			if err := g.receiveFile(dst, rec, times); err != nil {
				return err
			}
			times = nil
			if len(stack) == 0 {
				topDone = true
			}
		case 'E':
			if line != "" || len(stack) == 0 || times != nil {
				return protoErr("unexpected end-of-directory record %q", "E"+line)
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if err := g.finishDir(top); err != nil {
				return err
			}
			if err := ss.ack(); err != nil {
				return err
			}
			if len(stack) == 0 {
				topDone = true
			}
		default:
			return protoErr("unknown record %q", string(kind)+line)
		}
	}
}

// target is the local path of an entry named name: inside the current
// directory of a tree, or at the top level local itself or local/name when
// local is an existing directory. At the top level only the requested name
// is accepted.
func (g *getter) target(stack []dirFrame, name string, isDir bool) (string, error) {
	if len(stack) > 0 {
		return filepath.Join(stack[len(stack)-1].path, name), nil
	}
	if name != g.want {
		return "", &nameError{msg: fmt.Sprintf("server sent %q, not the requested %q", cleanMessage(name), cleanMessage(g.want))}
	}
	if fi, err := os.Stat(g.local); err == nil && fi.IsDir() {
		return filepath.Join(g.local, name), nil
	}
	return g.local, nil
}

// mkdir creates a directory of the tree, or accepts an existing one.
func (g *getter) mkdir(dst string, mode uint32) error {
	err := os.Mkdir(dst, fs.FileMode(mode&0o777)|0o700)
	if err == nil || errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Stat(dst); serr == nil && fi.IsDir() {
			return nil
		}
	}
	if err == nil {
		err = &fs.PathError{Op: "mkdir", Path: dst, Err: fs.ErrExist}
	}
	return err
}

// finishDir applies times and, with PreserveTimes, the mode of a directory
// whose contents are complete.
func (g *getter) finishDir(d dirFrame) error {
	if !g.c.preserve {
		return nil
	}
	if err := os.Chmod(d.path, fs.FileMode(d.mode&0o777)); err != nil {
		return err
	}
	if d.times != nil {
		return os.Chtimes(d.path, d.times.atime, d.times.mtime)
	}
	return nil
}

// receiveFile acknowledges a C record, reads its rec.size bytes into a
// temporary file, checks the server's status byte after them, and renames
// the file to dst.
func (g *getter) receiveFile(dst string, rec fileRecord, times *timeRecord) (err error) {
	ss := g.ss
	if fi, serr := os.Stat(dst); serr == nil && fi.IsDir() {
		return &fs.PathError{Op: "create", Path: dst, Err: ErrIsDirectory}
	}
	// Created with the record's mode, so that the kernel applies the umask
	// as it does for scp; PreserveTimes sets the exact mode below.
	tmp, err := createTemp(dst, fs.FileMode(rec.mode&0o777))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	g.total += rec.size
	g.report()
	if err := ss.ack(); err != nil {
		return err
	}
	if err := g.copyData(tmp, rec.size); err != nil {
		return err
	}
	// The server's status after the data: \0, or the reason it failed
	// to read its file (a short read leaves its data padded).
	if err := ss.readAck(); err != nil {
		var re *remoteErr
		if errors.As(err, &re) {
			return err
		}
		var pe *protoError
		if errors.As(err, &pe) {
			return protoErr("file %q: more data than its announced %d bytes, or a bad status after it", cleanMessage(rec.name), rec.size)
		}
		return err
	}
	if g.c.preserve {
		if err := tmp.Chmod(fs.FileMode(rec.mode & 0o777)); err != nil {
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if g.c.preserve && times != nil {
		if err := os.Chtimes(tmp.Name(), times.atime, times.mtime); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	return ss.ack()
}

// copyData copies exactly n bytes of the server's output to w, reporting
// progress.
func (g *getter) copyData(w io.Writer, n int64) error {
	buf := make([]byte, 64<<10)
	for n > 0 {
		chunk := buf[:min(int64(len(buf)), n)]
		m, err := g.ss.r.Read(chunk)
		if m > 0 {
			if _, werr := w.Write(chunk[:m]); werr != nil {
				return werr
			}
			n -= int64(m)
			g.done += int64(m)
			g.report()
		}
		if err != nil && (n > 0 || err != io.EOF) {
			return g.ss.ioErr(err)
		}
	}
	return nil
}

// createTemp creates a new file ".BASE.scp-RANDOM" beside dst.
func createTemp(dst string, perm fs.FileMode) (*os.File, error) {
	var rnd [6]byte
	for range 100 {
		if _, err := rand.Read(rnd[:]); err != nil {
			return nil, err
		}
		name := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".scp-"+hex.EncodeToString(rnd[:]))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, &fs.PathError{Op: "create", Path: dst, Err: fs.ErrExist}
}

func (g *getter) report() {
	if g.c.progress != nil {
		g.c.progress(g.done, g.total)
	}
}
