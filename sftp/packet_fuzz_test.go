package sftp

import (
	"encoding/binary"
	"testing"
)

// FuzzDecodePacket feeds server-controlled packet bodies to every decoder:
// none may panic, and a name list never holds more entries than its bytes
// could encode.
func FuzzDecodePacket(f *testing.F) {
	names := binary.BigEndian.AppendUint32(nil, 1)
	names = append(names, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0x0f)
	names = append(names, make([]byte, 8+8+4+8)...)
	f.Add(byte(fxpName), names)
	f.Add(byte(fxpName), []byte{0xff, 0xff, 0xff, 0xff})
	f.Add(byte(fxpStatus), []byte{0, 0, 0, 2, 0, 0, 0, 3, 'n', 'o', 'p', 0, 0, 0, 0})
	f.Add(byte(fxpVersion), []byte{0, 0, 0, 3, 0, 0, 0, 1, 'x', 0, 0, 0, 1, '1'})
	f.Add(byte(fxpAttrs), []byte{0x80, 0, 0, 0x0f, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0xa4, 0, 0, 0, 1, 0, 0, 0, 2, 0x7f, 0xff, 0xff, 0xff})
	f.Add(byte(fxpExtendedReply), make([]byte, 88))
	f.Add(byte(fxpData), []byte{0, 0, 0, 3, 'a', 'b', 'c'})
	f.Fuzz(func(t *testing.T, typ byte, b []byte) {
		switch typ % 6 {
		case 0:
			ents, err := decodeNames(b)
			if err == nil && len(ents)*12 > len(b) {
				t.Fatalf("%d entries from %d bytes", len(ents), len(b))
			}
			for _, e := range ents {
				m := newMetadata(e.name, e.long, e.attrs)
				_, _, _, _ = m.Owner(), m.Group(), m.Mode(), m.FileType()
				if len(m.Extended()) > maxExtended {
					t.Fatal("too many extended attributes kept")
				}
			}
		case 1:
			_, _, _ = decodeStatus(b)
		case 2:
			_, exts, err := decodeVersion(b)
			if err == nil && len(exts) > maxExtended {
				t.Fatal("too many extensions kept")
			}
		case 3:
			d := decoder{b: b}
			a := d.attrs()
			if len(a.ext) > maxExtended {
				t.Fatal("too many extended attributes kept")
			}
		case 4:
			d := decoder{b: b}
			for range 11 {
				d.u64()
			}
			_ = d.err("statvfs")
		case 5:
			d := decoder{b: b}
			p := d.bytes()
			if !d.bad && len(p) > len(b)-4 {
				t.Fatal("data longer than the packet")
			}
		}
	})
}
