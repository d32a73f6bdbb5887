package scp

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libssh-go/libssh/ssh"
)

// Put copies the local file local (with Recursive, a file or directory
// tree) to remote, running "scp -t" on a new session channel of s. As with
// scp, if remote is an existing directory the copy is made inside it under
// local's base name; otherwise remote is the name of the copy. The remote
// scp writes the files itself (OpenSSH's scp writes in place, so a
// transfer cut short leaves a partial remote file; the error says the
// transfer failed).
//
// Put reads the tree before sending anything: the total of Progress is
// known from the start, and a name the protocol cannot carry (a newline)
// fails with ErrInvalidName before the remote is touched. Symbolic links
// inside a tree, devices, sockets and fifos are left out; a top-level link
// is followed. A local file that changes size while it is sent fails the
// transfer.
//
// Put blocks until the remote scp confirmed every file and exited, ctx is
// done or an error occurs. Every error is an *Error (see the package
// documentation for what it wraps); the remote's refusal of a file (a
// directory that does not exist, no permission) wraps ErrRemote with its
// message.
func Put(ctx context.Context, s *ssh.Session, local, remote string, opts ...Option) error {
	c := buildConfig(opts)
	if err := checkSendable(remote); err != nil {
		return wrap("put", remote, &nameError{msg: "the remote name is empty or holds a newline or NUL"})
	}
	root, err := scanLocal(local, c.recursive)
	if err != nil {
		return wrap("put", remote, err)
	}
	if err := ctx.Err(); err != nil {
		return wrap("put", remote, err)
	}
	ss, err := start(ctx, s, command("-t", c, remote))
	if err != nil {
		return wrap("put", remote, err)
	}
	defer ss.close()
	p := &putter{ss: ss, c: c, total: root.totalSize()}
	return wrap("put", remote, p.run(root))
}

// entry is a local file or directory to send.
type entry struct {
	path     string
	name     string
	info     fs.FileInfo
	children []*entry // directories only
}

func (e *entry) totalSize() int64 {
	if !e.info.IsDir() {
		return e.info.Size()
	}
	var n int64
	for _, c := range e.children {
		n += c.totalSize()
	}
	return n
}

// scanLocal stats local (following a link) and, for a directory with
// recursive, reads the tree below it.
func scanLocal(local string, recursive bool) (*entry, error) {
	fi, err := os.Stat(local)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(local)
	if err := checkSendable(name); err != nil || name == "." || name == ".." || name == string(filepath.Separator) {
		abs, aerr := filepath.Abs(local)
		if aerr != nil || filepath.Base(abs) == string(filepath.Separator) {
			return nil, &nameError{msg: fmt.Sprintf("local name %q cannot be sent", local)}
		}
		name = filepath.Base(abs)
		if err := checkSendable(name); err != nil {
			return nil, &nameError{msg: fmt.Sprintf("local name %q cannot be sent", local)}
		}
	}
	e := &entry{path: local, name: name, info: fi}
	switch {
	case fi.Mode().IsRegular():
		return e, nil
	case fi.IsDir() && !recursive:
		return nil, &fs.PathError{Op: "put", Path: local, Err: ErrIsDirectory}
	case fi.IsDir():
		return e, scanDir(e)
	}
	return nil, &fs.PathError{Op: "put", Path: local, Err: fmt.Errorf("not a regular file or directory (%v)", fi.Mode().Type())}
}

func scanDir(d *entry) error {
	des, err := os.ReadDir(d.path)
	if err != nil {
		return err
	}
	for _, de := range des {
		if !de.Type().IsRegular() && !de.IsDir() {
			continue // links, devices, sockets, fifos
		}
		p := filepath.Join(d.path, de.Name())
		if checkSendable(de.Name()) != nil {
			return &nameError{msg: fmt.Sprintf("local name %q holds a newline and cannot be sent", p)}
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		c := &entry{path: p, name: de.Name(), info: fi}
		if fi.IsDir() {
			if err := scanDir(c); err != nil {
				return err
			}
		}
		d.children = append(d.children, c)
	}
	return nil
}

// putter is the source side of one Put.
type putter struct {
	ss          *session
	c           config
	done, total int64
}

func (p *putter) run(root *entry) error {
	ss := p.ss
	p.report()
	if err := ss.readAck(); err != nil {
		return err
	}
	if err := p.send(root); err != nil {
		return err
	}
	if err := ss.ch.SendEOF(); err != nil {
		return ss.whyEnded(err)
	}
	// The remote scp exits after our EOF; anything it still writes is an
	// error message.
	if b, err := ss.r.ReadByte(); err == nil {
		ss.r.UnreadByte()
		if err := ss.readAck(); err != nil {
			return err
		}
		return protoErr("unexpected output %#02x after the last file", b)
	} else if err != io.EOF {
		return ss.ioErr(err)
	}
	return ss.wait()
}

// send sends one entry and, for a directory, its contents.
func (p *putter) send(e *entry) error {
	ss := p.ss
	if p.c.preserve {
		mt, at := e.info.ModTime(), accessTime(e.info)
		if err := ss.write(fmt.Appendf(nil, "T%d 0 %d 0\n", mt.Unix(), at.Unix())); err != nil {
			return err
		}
		if err := ss.readAck(); err != nil {
			return err
		}
	}
	mode := uint32(e.info.Mode().Perm())
	if e.info.IsDir() {
		if err := ss.write(fmt.Appendf(nil, "D%04o 0 %s\n", mode, e.name)); err != nil {
			return err
		}
		if err := ss.readAck(); err != nil {
			return err
		}
		for _, c := range e.children {
			if err := p.send(c); err != nil {
				return err
			}
		}
		if err := ss.write([]byte("E\n")); err != nil {
			return err
		}
		return ss.readAck()
	}
	f, err := os.Open(e.path)
	if err != nil {
		return err
	}
	defer f.Close()
	size := e.info.Size()
	if err := ss.write(fmt.Appendf(nil, "C%04o %d %s\n", mode, size, e.name)); err != nil {
		return err
	}
	if err := ss.readAck(); err != nil {
		return err
	}
	buf := make([]byte, 128<<10)
	for left := size; left > 0; {
		n, rerr := f.Read(buf[:min(int64(len(buf)), left)])
		if n > 0 {
			if err := ss.write(buf[:n]); err != nil {
				return err
			}
			left -= int64(n)
			p.done += int64(n)
			p.report()
		}
		if rerr == io.EOF && left > 0 {
			return &fs.PathError{Op: "read", Path: e.path, Err: fmt.Errorf("file shrank while being sent: %w", io.ErrUnexpectedEOF)}
		}
		if rerr != nil && rerr != io.EOF {
			return rerr
		}
	}
	if err := ss.ack(); err != nil {
		return err
	}
	return ss.readAck()
}

func (p *putter) report() {
	if p.c.progress != nil {
		p.c.progress(p.done, p.total)
	}
}
