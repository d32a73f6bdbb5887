package sftp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/libssh-go/libssh/sshtest"
)

// TestReadDirect checks the reader's path that puts DATA straight into the caller's buffer:
// the data lands in place, and a DATA whose length disagrees with its packet, or exceeds the
// read, ends the Client with ErrProtocol instead of overrunning the buffer.
func TestReadDirect(t *testing.T) {
	rest := func(dataLen uint32, data []byte) *bufio.Reader {
		var b bytes.Buffer
		_ = binary.Write(&b, binary.BigEndian, dataLen)
		b.Write(data)
		return bufio.NewReader(&b)
	}
	var lenBuf [4]byte

	c, _ := client(t, sshtest.SFTPOptions{})
	dst := make([]byte, 8)
	r := c.readDirect(rest(5, []byte("hello")), 9+5, dst, lenBuf[:])
	if !r.direct || r.n != 5 || string(dst[:5]) != "hello" {
		t.Fatalf("good DATA: %+v, dst %q", r, dst)
	}
	if r := c.readDirect(rest(0, nil), 9, dst, lenBuf[:]); !r.direct || r.n != 0 {
		t.Fatalf("empty DATA: %+v", r)
	}

	for name, tc := range map[string]struct {
		packet, dataLen uint32
		data            []byte
	}{
		"length disagrees with packet": {9 + 4, 5, []byte("hello")},
		"longer than the read":         {9 + 9, 9, []byte("123456789")},
	} {
		c, _ := client(t, sshtest.SFTPOptions{})
		dst := make([]byte, 8)
		if r := c.readDirect(rest(tc.dataLen, tc.data), tc.packet, dst, lenBuf[:]); r.typ != 0 {
			t.Errorf("%s: accepted as %+v", name, r)
		}
		if err := c.Err(); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: Client ended with %v, want ErrProtocol", name, err)
		}
		if !bytes.Equal(dst, make([]byte, 8)) {
			t.Errorf("%s: buffer written: %q", name, dst)
		}
	}
}
