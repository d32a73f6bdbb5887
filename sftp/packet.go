package sftp

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Packet types of SFTP v3 (draft-ietf-secsh-filexfer-02 §3).
const (
	fxpInit          = 1
	fxpVersion       = 2
	fxpOpen          = 3
	fxpClose         = 4
	fxpRead          = 5
	fxpWrite         = 6
	fxpLstat         = 7
	fxpFstat         = 8
	fxpSetstat       = 9
	fxpFsetstat      = 10
	fxpOpendir       = 11
	fxpReaddir       = 12
	fxpRemove        = 13
	fxpMkdir         = 14
	fxpRmdir         = 15
	fxpRealpath      = 16
	fxpStat          = 17
	fxpRename        = 18
	fxpReadlink      = 19
	fxpSymlink       = 20
	fxpStatus        = 101
	fxpHandle        = 102
	fxpData          = 103
	fxpName          = 104
	fxpAttrs         = 105
	fxpExtended      = 200
	fxpExtendedReply = 201
)

// Attribute flags (§5).
const (
	attrSize        = 0x00000001
	attrUIDGID      = 0x00000002
	attrPermissions = 0x00000004
	attrACModTime   = 0x00000008
	attrExtended    = 0x80000000
)

// maxHandle is the longest handle accepted (the draft allows 256 bytes).
const maxHandle = 256

// encoder builds one packet: 4 length bytes, then the body. The length is
// filled in by finish.
type encoder struct{ b []byte }

func newEncoder(buf []byte, typ byte, id uint32) *encoder {
	e := &encoder{b: append(buf[:0], 0, 0, 0, 0, typ)}
	e.u32(id)
	return e
}

func (e *encoder) u8(v byte)      { e.b = append(e.b, v) }
func (e *encoder) u32(v uint32)   { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64)   { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *encoder) str(s string)   { e.u32(uint32(len(s))); e.b = append(e.b, s...) }
func (e *encoder) bytes(p []byte) { e.u32(uint32(len(p))); e.b = append(e.b, p...) }

func (e *encoder) finish() []byte {
	binary.BigEndian.PutUint32(e.b, uint32(len(e.b)-4))
	return e.b
}

func (e *encoder) attrs(a *SetAttributes) {
	if a == nil {
		e.u32(0)
		return
	}
	var flags uint32
	if a.Size != nil {
		flags |= attrSize
	}
	if a.UID != nil {
		flags |= attrUIDGID
	}
	if a.Mode != nil {
		flags |= attrPermissions
	}
	if a.ModTime != nil {
		flags |= attrACModTime
	}
	e.u32(flags)
	if a.Size != nil {
		e.u64(*a.Size)
	}
	if a.UID != nil {
		e.u32(*a.UID)
		e.u32(*a.GID)
	}
	if a.Mode != nil {
		e.u32(fromFileMode(*a.Mode))
	}
	if a.ModTime != nil {
		e.u32(uint32(a.AccessTime.Unix()))
		e.u32(uint32(a.ModTime.Unix()))
	}
}

// decoder reads the fields of a packet the server sent. Every read checks
// the bounds; the first failure sticks and is reported by err.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) u8() byte {
	if len(d.b) < 1 {
		d.bad = true
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) u32() uint32 {
	if len(d.b) < 4 {
		d.bad = true
		d.b = nil
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) u64() uint64 {
	if len(d.b) < 8 {
		d.bad = true
		d.b = nil
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// bytes returns a string field without copying it.
func (d *decoder) bytes() []byte {
	n := d.u32()
	if d.bad || uint64(n) > uint64(len(d.b)) {
		d.bad = true
		d.b = nil
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.bytes()) }

func (d *decoder) err(what string) error {
	if d.bad {
		return fmt.Errorf("%w: truncated %s", ErrProtocol, what)
	}
	return nil
}

// attrs decodes an ATTRS structure (§5). Extended attributes are kept, at
// most maxExtended of them.
func (d *decoder) attrs() fileAttrs {
	var a fileAttrs
	a.flags = d.u32()
	if a.flags&attrSize != 0 {
		a.size = d.u64()
	}
	if a.flags&attrUIDGID != 0 {
		a.uid = d.u32()
		a.gid = d.u32()
	}
	if a.flags&attrPermissions != 0 {
		a.perm = d.u32()
	}
	if a.flags&attrACModTime != 0 {
		a.atime = d.u32()
		a.mtime = d.u32()
	}
	if a.flags&attrExtended != 0 {
		n := d.u32()
		// Each pair takes at least 8 bytes: a count beyond that is a lie.
		if uint64(n)*8 > uint64(len(d.b)) {
			d.bad = true
			return a
		}
		for i := uint32(0); i < n && !d.bad; i++ {
			k, v := d.str(), d.str()
			if i < maxExtended {
				a.ext = append(a.ext, Extension{Name: k, Data: v})
			}
		}
	}
	return a
}

// maxExtended caps the extended attributes kept per file.
const maxExtended = 64

// fileAttrs is a decoded ATTRS structure.
type fileAttrs struct {
	flags        uint32
	size         uint64
	uid, gid     uint32
	perm         uint32
	atime, mtime uint32
	ext          []Extension
}

// nameEntry is one entry of an SSH_FXP_NAME response.
type nameEntry struct {
	name, long string
	attrs      fileAttrs
}

// decodeNames decodes the body of an SSH_FXP_NAME packet after its id. A
// count larger than the packet could hold is refused before anything is
// allocated, so the memory used is bounded by the packet length limit.
func decodeNames(b []byte) ([]nameEntry, error) {
	d := decoder{b: b}
	n := d.u32()
	// An entry takes at least 12 bytes: two empty strings and the flags.
	if d.bad || uint64(n)*12 > uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: name list of %d entries in %d bytes", ErrProtocol, n, len(b))
	}
	out := make([]nameEntry, 0, n)
	for i := uint32(0); i < n; i++ {
		var e nameEntry
		e.name = d.str()
		e.long = d.str()
		e.attrs = d.attrs()
		if d.bad {
			return nil, d.err("name list")
		}
		out = append(out, e)
	}
	return out, nil
}

// decodeStatus decodes the body of an SSH_FXP_STATUS packet after its id.
// OpenSSH before 3.x and some embedded servers omit the message and
// language tag; that is accepted.
func decodeStatus(b []byte) (code uint32, msg string, err error) {
	d := decoder{b: b}
	code = d.u32()
	if d.bad {
		return 0, "", d.err("status")
	}
	if len(d.b) == 0 {
		return code, "", nil
	}
	msg = d.str()
	if d.bad {
		return 0, "", d.err("status message")
	}
	return code, msg, nil
}

// decodeVersion decodes the body of SSH_FXP_VERSION after its type byte.
func decodeVersion(b []byte) (uint32, map[string]string, error) {
	d := decoder{b: b}
	v := d.u32()
	if d.bad {
		return 0, nil, d.err("version")
	}
	exts := map[string]string{}
	for len(d.b) > 0 {
		k, val := d.str(), d.str()
		if d.bad {
			return 0, nil, d.err("version extensions")
		}
		if len(exts) < maxExtended {
			if _, dup := exts[k]; !dup {
				exts[k] = val
			}
		}
	}
	return v, exts, nil
}

func unixTime(sec uint32) time.Time { return time.Unix(int64(sec), 0) }
