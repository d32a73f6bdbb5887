package sshtest

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"

	"github.com/pkg/sftp"
)

// SFTPOptions configures SFTPHandler: the directory served and the ways
// the server misbehaves. The zero value serves the process's working
// directory correctly. Requests and answers are counted from 1, after
// INIT/VERSION.
type SFTPOptions struct {
	// Dir is the directory relative paths resolve against; absolute paths
	// reach the whole file system, as with OpenSSH's sftp-server. ""
	// keeps the process's working directory.
	Dir string

	// ShortReads caps the bytes of each READ answer: the handler asks
	// the server for at most this many. 0 keeps pkg/sftp's 32 KiB cap.
	ShortReads int

	// FailWrite answers the Nth WRITE request with SSH_FX_FAILURE instead
	// of writing it; 0 never fails.
	FailWrite int

	// StopAfter stops answering after N requests were answered: later
	// requests are read and dropped. 0 never stops.
	StopAfter int

	// Oversized replaces the Nth answer by a packet header announcing
	// 64 MiB, followed by nothing. 0 never does.
	Oversized int

	// Malformed truncates the Nth answer to its type and id (a STATUS
	// without a code, a NAME without a count, ...). 0 never does.
	Malformed int

	// UnknownID sends the Nth answer with a request id the client never
	// used. 0 never does.
	UnknownID int

	// Unsolicited sends, before the Nth answer, a STATUS OK for a request
	// id the client never used. 0 never does.
	Unsolicited int

	// NeverClose drops every CLOSE request: the handle stays open and the
	// client never gets an answer.
	NeverClose bool

	// HugeNameList answers the first READDIR with a NAME packet that
	// claims this many entries but carries one. 0 never does.
	HugeNameList uint32

	// DirNames answers the first READDIR with a NAME packet listing these
	// names (with no attributes), such as "../escape" or "a/b" from a
	// hostile server. Nil never does.
	DirNames []string

	// EndlessDir answers every READDIR with 1000 made-up entries and never
	// with EOF.
	EndlessDir bool

	// Extensions are announced in VERSION besides pkg/sftp's own
	// (hardlink, posix-rename, statvfs). "limits@openssh.com" is answered
	// by the handler with LimitsRead and LimitsWrite.
	Extensions map[string]string

	// LimitsRead and LimitsWrite are the max-read-length and
	// max-write-length of a limits@openssh.com answer (0: 256 KiB - 1 KiB).
	LimitsRead, LimitsWrite uint64
}

// SFTPHandler returns a subsystem handler for Config.Subsystems["sftp"]
// that serves SFTP v3 with github.com/pkg/sftp's server, behind a small
// framing proxy that applies the faults of o. It returns once the client
// closes the channel or ctx.Ctx ends, with exit status 0 (1 after a
// server error).
func SFTPHandler(o SFTPOptions) func(ctx ExecContext) int {
	return func(ctx ExecContext) int { return serveSFTP(ctx, o) }
}

const (
	sftpInit    = 1
	sftpVersion = 2
	sftpRead    = 5
	sftpWrite   = 6
	sftpClose   = 4
	sftpReaddir = 12
	sftpStatus  = 101
	sftpName    = 104
	sftpExt     = 200
	sftpExtRep  = 201
)

type sftpProxy struct {
	o   SFTPOptions
	out io.Writer // the channel
	wmu sync.Mutex

	mu       sync.Mutex
	nAnswers int
	writes   int
	stopped  bool
	dirDone  bool
}

func (p *sftpProxy) send(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.out.Write(b)
	return err
}

func serveSFTP(ctx ExecContext, o SFTPOptions) int {
	if ctx.Stdin == nil || ctx.Stdout == nil {
		return 1
	}
	toSrvR, toSrvW := io.Pipe()
	fromSrvR, fromSrvW := io.Pipe()
	opts := []sftp.ServerOption{}
	if o.Dir != "" {
		opts = append(opts, sftp.WithServerWorkingDirectory(o.Dir))
	}
	srv, err := sftp.NewServer(struct {
		io.Reader
		io.WriteCloser
	}{toSrvR, fromSrvW}, opts...)
	if err != nil {
		return 1
	}
	p := &sftpProxy{o: o, out: ctx.Stdout}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // client -> server
		defer wg.Done()
		err := p.requests(ctx.Stdin, toSrvW)
		_ = toSrvW.CloseWithError(err)
	}()
	go func() { // server -> client
		defer wg.Done()
		err := p.answers(fromSrvR)
		_ = fromSrvR.CloseWithError(err)
	}()
	done := make(chan struct{})
	if ctx.Ctx != nil {
		go func() {
			select {
			case <-ctx.Ctx.Done():
				_ = toSrvW.CloseWithError(io.ErrClosedPipe)
				_ = fromSrvR.CloseWithError(io.ErrClosedPipe)
			case <-done:
			}
		}()
	}
	serr := srv.Serve()
	_ = srv.Close()
	_ = fromSrvW.Close()
	_ = fromSrvR.CloseWithError(io.ErrClosedPipe)
	_ = toSrvR.CloseWithError(io.ErrClosedPipe)
	close(done)
	wg.Wait()
	if serr != nil && !errors.Is(serr, io.EOF) && !errors.Is(serr, io.ErrClosedPipe) {
		return 1
	}
	return 0
}

func readSFTPPacket(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 1 || n > 1<<20 {
		return nil, errors.New("sshtest: sftp packet length out of range")
	}
	b := make([]byte, 4+n)
	copy(b, hdr[:])
	if _, err := io.ReadFull(r, b[4:]); err != nil {
		return nil, err
	}
	return b, nil
}

func sftpPacket(typ byte, id uint32, body ...[]byte) []byte {
	b := []byte{0, 0, 0, 0, typ}
	b = binary.BigEndian.AppendUint32(b, id)
	for _, x := range body {
		b = append(b, x...)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func sftpString(s string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(s))), s...)
}

func sftpStatusBody(code uint32, msg string) []byte {
	b := binary.BigEndian.AppendUint32(nil, code)
	b = append(b, sftpString(msg)...)
	return append(b, sftpString("")...)
}

// requests forwards the client's packets to the server, answering or
// dropping those a fault concerns.
func (p *sftpProxy) requests(in io.Reader, srv io.Writer) error {
	for {
		b, err := readSFTPPacket(in)
		if err != nil {
			return err
		}
		typ := b[4]
		if typ == sftpInit {
			if _, err := srv.Write(b); err != nil {
				return err
			}
			continue
		}
		if len(b) < 9 {
			return errors.New("sshtest: sftp request without id")
		}
		id := binary.BigEndian.Uint32(b[5:9])
		p.mu.Lock()
		stopped := p.stopped
		if typ == sftpWrite {
			p.writes++
		}
		failWrite := typ == sftpWrite && p.writes == p.o.FailWrite
		dirDone := p.dirDone
		p.mu.Unlock()
		switch {
		case stopped:
			continue
		case typ == sftpClose && p.o.NeverClose:
			continue
		case typ == sftpRead && p.o.ShortReads > 0 && len(b) >= 4+1+4+4+8+4:
			tail := b[len(b)-4:]
			if binary.BigEndian.Uint32(tail) > uint32(p.o.ShortReads) {
				binary.BigEndian.PutUint32(tail, uint32(p.o.ShortReads))
			}
			_, err = srv.Write(b)
		case failWrite:
			err = p.answer(sftpPacket(sftpStatus, id, sftpStatusBody(4, "injected write failure")))
		case typ == sftpReaddir && p.o.HugeNameList > 0 && !dirDone:
			p.mu.Lock()
			p.dirDone = true
			p.mu.Unlock()
			body := binary.BigEndian.AppendUint32(nil, p.o.HugeNameList)
			body = append(body, sftpString("x")...)
			body = append(body, sftpString("x")...)
			body = append(body, 0, 0, 0, 0)
			err = p.answer(sftpPacket(sftpName, id, body))
		case typ == sftpReaddir && len(p.o.DirNames) > 0 && !dirDone:
			p.mu.Lock()
			p.dirDone = true
			p.mu.Unlock()
			body := binary.BigEndian.AppendUint32(nil, uint32(len(p.o.DirNames)))
			for _, n := range p.o.DirNames {
				body = append(body, sftpString(n)...)
				body = append(body, sftpString("")...)
				body = append(body, 0, 0, 0, 0)
			}
			err = p.answer(sftpPacket(sftpName, id, body))
		case typ == sftpReaddir && p.o.EndlessDir:
			body := binary.BigEndian.AppendUint32(nil, 1000)
			for i := 0; i < 1000; i++ {
				body = append(body, sftpString("f")...)
				body = append(body, sftpString("")...)
				body = append(body, 0, 0, 0, 0)
			}
			err = p.answer(sftpPacket(sftpName, id, body))
		case typ == sftpExt && isExt(b[9:], "limits@openssh.com") && p.o.Extensions["limits@openssh.com"] != "":
			rd, wr := p.o.LimitsRead, p.o.LimitsWrite
			if rd == 0 {
				rd = 255 << 10
			}
			if wr == 0 {
				wr = 255 << 10
			}
			body := binary.BigEndian.AppendUint64(nil, 256<<10)
			body = binary.BigEndian.AppendUint64(body, rd)
			body = binary.BigEndian.AppendUint64(body, wr)
			body = binary.BigEndian.AppendUint64(body, 0)
			// Not counted as an answer: New sends it.
			err = p.send(sftpPacket(sftpExtRep, id, body))
		default:
			_, err = srv.Write(b)
		}
		if err != nil {
			return err
		}
	}
}

func isExt(b []byte, name string) bool {
	if len(b) < 4 {
		return false
	}
	n := binary.BigEndian.Uint32(b)
	return uint64(n) == uint64(len(name)) && len(b) >= 4+len(name) && string(b[4:4+len(name)]) == name
}

// answers forwards the server's packets to the client, applying the
// answer faults.
func (p *sftpProxy) answers(srv io.Reader) error {
	for {
		b, err := readSFTPPacket(srv)
		if err != nil {
			return err
		}
		if b[4] == sftpVersion {
			b = p.version(b)
			if err := p.send(b); err != nil {
				return err
			}
			continue
		}
		if err := p.answer(b); err != nil {
			return err
		}
	}
}

func (p *sftpProxy) version(b []byte) []byte {
	for k, v := range p.o.Extensions {
		b = append(b, sftpString(k)...)
		b = append(b, sftpString(v)...)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// answer sends one answer (from the server or made up), counting it.
func (p *sftpProxy) answer(b []byte) error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.nAnswers++
	n := p.nAnswers
	if p.o.StopAfter > 0 && n > p.o.StopAfter {
		p.stopped = true
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	switch n {
	case p.o.Unsolicited:
		if err := p.send(sftpPacket(sftpStatus, 0x7fff_fff0, sftpStatusBody(0, ""))); err != nil {
			return err
		}
	case p.o.Oversized:
		return p.send([]byte{0x04, 0, 0, 0})
	case p.o.Malformed:
		b = append([]byte(nil), b[:9]...)
		binary.BigEndian.PutUint32(b, 5)
	case p.o.UnknownID:
		b = append([]byte(nil), b...)
		binary.BigEndian.PutUint32(b[5:9], 0x7fff_fff1)
	}
	return p.send(b)
}
