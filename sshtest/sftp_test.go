package sshtest

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// sftpClient connects pkg/sftp's client to a server whose "sftp" subsystem
// is SFTPHandler(o).
func sftpClient(t *testing.T, o SFTPOptions) *sftp.Client {
	t.Helper()
	s := New(t, Config{
		Users:      map[string]User{"alice": {Password: "pw"}},
		Subsystems: map[string]func(ExecContext) int{"sftp": SFTPHandler(o)},
	})
	c := connect(t, s, clientConfig(s, "alice", ssh.Password("pw")))
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return sc
}

func TestSFTPHandlerServesDir(t *testing.T) {
	dir := t.TempDir()
	sc := sftpClient(t, SFTPOptions{Dir: dir})
	f, err := sc.Create(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte("x"), 100000)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || len(b) != 100000 {
		t.Fatalf("written file: %d %v", len(b), err)
	}
	if wd, err := sc.Getwd(); err != nil || wd != dir {
		t.Fatalf("working directory %q %v", wd, err)
	}
}

func TestSFTPHandlerFaults(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), bytes.Repeat([]byte("y"), 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("short reads", func(t *testing.T) {
		// pkg/sftp's client re-asks for short reads, so this speaks raw packets.
		s := New(t, Config{
			Users:      map[string]User{"alice": {Password: "pw"}},
			Subsystems: map[string]func(ExecContext) int{"sftp": SFTPHandler(SFTPOptions{ShortReads: 100})},
		})
		c := connect(t, s, clientConfig(s, "alice", ssh.Password("pw")))
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		in, _ := sess.StdinPipe()
		out, _ := sess.StdoutPipe()
		if err := sess.RequestSubsystem("sftp"); err != nil {
			t.Fatal(err)
		}
		if _, err := in.Write([]byte{0, 0, 0, 5, sftpInit, 0, 0, 0, 3}); err != nil {
			t.Fatal(err)
		}
		if b, err := readSFTPPacket(out); err != nil || b[4] != sftpVersion {
			t.Fatalf("VERSION: %v %v", b, err)
		}
		open := append(sftpString(filepath.Join(dir, "f")), 0, 0, 0, 1, 0, 0, 0, 0)
		if _, err := in.Write(sftpPacket(3, 1, open)); err != nil {
			t.Fatal(err)
		}
		b, err := readSFTPPacket(out)
		if err != nil || b[4] != 102 {
			t.Fatalf("HANDLE: %v %v", b, err)
		}
		handle := b[9:] // the handle as an SSH string
		read := append(append([]byte(nil), handle...), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8)
		if _, err := in.Write(sftpPacket(sftpRead, 2, read)); err != nil {
			t.Fatal(err)
		}
		b, err = readSFTPPacket(out)
		if err != nil || b[4] != 103 || binary.BigEndian.Uint32(b[9:13]) != 100 {
			t.Fatalf("DATA: % x %v", b[:min(len(b), 13)], err)
		}
	})
	t.Run("failed write", func(t *testing.T) {
		sc := sftpClient(t, SFTPOptions{FailWrite: 1})
		f, err := sc.Create(filepath.Join(dir, "g"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write([]byte("z")); err == nil {
			t.Fatal("first write succeeded")
		}
		if _, err := f.Write([]byte("z")); err != nil {
			t.Fatalf("second write: %v", err)
		}
	})
	t.Run("huge name list", func(t *testing.T) {
		sc := sftpClient(t, SFTPOptions{HugeNameList: 1 << 30})
		if _, err := sc.ReadDir(dir); err == nil {
			t.Fatal("a name list of 2^30 entries in one packet was accepted")
		}
	})
	t.Run("extensions", func(t *testing.T) {
		sc := sftpClient(t, SFTPOptions{Extensions: map[string]string{"limits@openssh.com": "1"}})
		if v, ok := sc.HasExtension("limits@openssh.com"); !ok || v != "1" {
			t.Fatalf("limits@openssh.com not announced: %q %v", v, ok)
		}
	})
}
