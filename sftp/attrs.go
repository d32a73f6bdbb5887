package sftp

import (
	"io/fs"
	"path"
	"strings"
	"time"
)

// FileType is the kind of a file, as libssh-rs's FileType.
type FileType uint8

// The file types. Unknown is the zero value: the server sent no
// permissions.
const (
	TypeUnknown FileType = iota
	TypeRegular
	TypeDirectory
	TypeSymlink
	TypeSpecial // device, fifo, socket
)

// String names the type.
func (t FileType) String() string {
	switch t {
	case TypeRegular:
		return "regular"
	case TypeDirectory:
		return "directory"
	case TypeSymlink:
		return "symlink"
	case TypeSpecial:
		return "special"
	}
	return "unknown"
}

// Extension is one extended attribute (or announced extension): a name and
// its opaque data.
type Extension struct {
	Name, Data string
}

// Metadata is what the server reported about a file (libssh-rs Metadata).
// It implements fs.FileInfo; Sys returns the Metadata itself. Fields the
// server did not send read as zero: Size 0, Uid/Gid -1, times the zero
// time.Time, FileType TypeUnknown. The zero value describes nothing.
type Metadata struct {
	name  string
	long  string
	attrs fileAttrs
}

func newMetadata(name, long string, a fileAttrs) Metadata {
	return Metadata{name: name, long: long, attrs: a}
}

// Name is the base name (fs.FileInfo): the directory entry's name, or the
// last element of the path that was asked about.
func (m Metadata) Name() string { return m.name }

// Size is the length in bytes; 0 when not sent.
func (m Metadata) Size() int64 { return int64(m.attrs.size) }

// HasSize reports whether the server sent the size.
func (m Metadata) HasSize() bool { return m.attrs.flags&attrSize != 0 }

// Mode is the file's type and permission bits as an fs.FileMode.
func (m Metadata) Mode() fs.FileMode { return toFileMode(m.attrs.perm) }

// Permissions is the raw POSIX st_mode the server sent (type and
// permission bits), 0 when none.
func (m Metadata) Permissions() uint32 { return m.attrs.perm }

// ModTime is the modification time; the zero time.Time when not sent.
func (m Metadata) ModTime() time.Time {
	if m.attrs.flags&attrACModTime == 0 {
		return time.Time{}
	}
	return unixTime(m.attrs.mtime)
}

// AccessTime is the last access time; the zero time.Time when not sent.
func (m Metadata) AccessTime() time.Time {
	if m.attrs.flags&attrACModTime == 0 {
		return time.Time{}
	}
	return unixTime(m.attrs.atime)
}

// IsDir reports whether the file is a directory.
func (m Metadata) IsDir() bool { return m.FileType() == TypeDirectory }

// Sys returns the Metadata itself, so an fs.FileInfo from FS can be turned
// back into one.
func (m Metadata) Sys() any { return m }

// Uid is the owner's numeric id, -1 when not sent.
func (m Metadata) Uid() int {
	if m.attrs.flags&attrUIDGID == 0 {
		return -1
	}
	return int(m.attrs.uid)
}

// Gid is the group's numeric id, -1 when not sent.
func (m Metadata) Gid() int {
	if m.attrs.flags&attrUIDGID == 0 {
		return -1
	}
	return int(m.attrs.gid)
}

// LongName is the `ls -l` style line the server sent with a directory
// entry (or REALPATH answer); "" for stat results.
func (m Metadata) LongName() string { return m.long }

// Owner is the owner's name taken from LongName (its third field, as
// OpenSSH prints it); "" when unknown.
func (m Metadata) Owner() string { return m.longField(2) }

// Group is the group's name taken from LongName (its fourth field); ""
// when unknown.
func (m Metadata) Group() string { return m.longField(3) }

func (m Metadata) longField(i int) string {
	f := strings.Fields(m.long)
	if len(f) < 9 {
		return ""
	}
	return f[i]
}

// Extended returns the extended attributes the server sent (at most 64).
func (m Metadata) Extended() []Extension { return append([]Extension(nil), m.attrs.ext...) }

// FileType is the kind of file, from the permission bits.
func (m Metadata) FileType() FileType {
	if m.attrs.flags&attrPermissions == 0 {
		return TypeUnknown
	}
	switch m.attrs.perm & sIFMT {
	case sIFREG:
		return TypeRegular
	case sIFDIR:
		return TypeDirectory
	case sIFLNK:
		return TypeSymlink
	case 0:
		return TypeUnknown
	}
	return TypeSpecial
}

// SetAttributes says which attributes SetMetadata (SSH_FXP_SETSTAT) and
// File.SetMetadata change; a nil field is left as it is, so the zero value
// changes nothing. UID and GID go together, as do AccessTime and ModTime
// (the protocol sends them in pairs): setting one of a pair without the
// other is refused with an error matching fs.ErrInvalid.
type SetAttributes struct {
	Size       *uint64
	Mode       *fs.FileMode // permission bits (and setuid, setgid, sticky)
	UID, GID   *uint32
	AccessTime *time.Time
	ModTime    *time.Time
}

func (a *SetAttributes) check(op, p string) error {
	if (a.UID == nil) != (a.GID == nil) {
		return &fs.PathError{Op: op, Path: p, Err: errPair("UID and GID")}
	}
	if (a.AccessTime == nil) != (a.ModTime == nil) {
		return &fs.PathError{Op: op, Path: p, Err: errPair("AccessTime and ModTime")}
	}
	return nil
}

type errPair string

func (e errPair) Error() string        { return "sftp: " + string(e) + " must be set together" }
func (e errPair) Is(target error) bool { return target == fs.ErrInvalid }

// POSIX st_mode bits.
const (
	sIFMT   = 0o170000
	sIFSOCK = 0o140000
	sIFLNK  = 0o120000
	sIFREG  = 0o100000
	sIFBLK  = 0o060000
	sIFDIR  = 0o040000
	sIFCHR  = 0o020000
	sIFIFO  = 0o010000
	sISUID  = 0o4000
	sISGID  = 0o2000
	sISVTX  = 0o1000
)

func toFileMode(p uint32) fs.FileMode {
	m := fs.FileMode(p & 0o777)
	switch p & sIFMT {
	case sIFDIR:
		m |= fs.ModeDir
	case sIFLNK:
		m |= fs.ModeSymlink
	case sIFSOCK:
		m |= fs.ModeSocket
	case sIFBLK:
		m |= fs.ModeDevice
	case sIFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case sIFIFO:
		m |= fs.ModeNamedPipe
	}
	if p&sISUID != 0 {
		m |= fs.ModeSetuid
	}
	if p&sISGID != 0 {
		m |= fs.ModeSetgid
	}
	if p&sISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// fromFileMode gives the permission bits (and setuid/setgid/sticky) of m;
// type bits are not sent in SETSTAT.
func fromFileMode(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= sISUID
	}
	if m&fs.ModeSetgid != 0 {
		p |= sISGID
	}
	if m&fs.ModeSticky != 0 {
		p |= sISVTX
	}
	return p
}

func baseName(p string) string {
	b := path.Base(p)
	if b == "." || b == "" {
		return p
	}
	return b
}
