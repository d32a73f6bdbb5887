package sftp

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/libssh-go/libssh/sshtest"
)

func TestNewNegotiatesAndClosesCleanly(t *testing.T) {
	c, _ := client(t, sshtest.SFTPOptions{})
	if !c.HasExtension("posix-rename@openssh.com") || !c.HasExtension("statvfs@openssh.com") {
		t.Fatalf("extensions: %v", c.Extensions())
	}
	if r, w := c.RequestSizes(); r != 32<<10 || w != 32<<10 {
		t.Fatalf("sizes without limits@openssh.com: %d %d", r, w)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := c.Metadata(testCtx(t), "/"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestLimitsExtensionSizesRequests(t *testing.T) {
	o := sshtest.SFTPOptions{Extensions: map[string]string{"limits@openssh.com": "1"}, LimitsRead: 100000, LimitsWrite: 70000}
	c, dir := client(t, o)
	if r, w := c.RequestSizes(); r != 100000 || w != 70000 {
		t.Fatalf("sizes: %d %d", r, w)
	}
	c2, _ := client(t, o, MaxRequestSize(50000))
	if r, w := c2.RequestSizes(); r != 50000 || w != 50000 {
		t.Fatalf("capped sizes: %d %d", r, w)
	}
	// pkg/sftp's server answers at most 32 KiB per READ: the rest is asked again.
	data := randomBytes(1<<20+123, 1)
	writeLocal(t, filepath.Join(dir, "f"), data)
	f, err := c.Open(testCtx(t), filepath.Join(dir, "f"), OpenReadOnly, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if n, err := f.WriteTo(&buf); err != nil || n != int64(len(data)) || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("WriteTo: %d %v", n, err)
	}
}

func TestFileWriteReadRoundTrip(t *testing.T) {
	c, dir := client(t, sshtest.SFTPOptions{})
	ctx := testCtx(t)
	data := randomBytes(3<<20+77, 2)
	p := filepath.Join(dir, "round")

	f, err := c.Create(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.Write(data[:1000]); n != 1000 || err != nil {
		t.Fatalf("Write: %d %v", n, err)
	}
	if n, err := f.ReadFrom(bytes.NewReader(data[1000:])); n != int64(len(data)-1000) || err != nil {
		t.Fatalf("ReadFrom: %d %v", n, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	checkLocal(t, p, data)

	f, err = c.Open(ctx, p, OpenReadWrite, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]byte, len(data))
	if n, err := f.ReadAt(got, 0); n != len(data) || err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAt: %d %v", n, err)
	}
	if n, err := f.ReadAt(got[:100], int64(len(data)-10)); n != 10 || err != io.EOF {
		t.Fatalf("ReadAt past the end: %d %v", n, err)
	}
	small := make([]byte, 333)
	if n, err := io.ReadFull(f, small); n != 333 || err != nil || !bytes.Equal(small, data[:333]) {
		t.Fatalf("Read: %d %v", n, err)
	}
	var buf bytes.Buffer
	if n, err := f.WriteTo(&buf); n != int64(len(data)-333) || err != nil || !bytes.Equal(buf.Bytes(), data[333:]) {
		t.Fatalf("WriteTo from 333: %d %v", n, err)
	}
	if n, err := f.Read(small); n != 0 || err != io.EOF {
		t.Fatalf("Read at the end: %d %v", n, err)
	}
	if off, err := f.Seek(-5, io.SeekEnd); off != int64(len(data)-5) || err != nil {
		t.Fatalf("Seek end: %d %v", off, err)
	}
	if _, err := f.Seek(-1, io.SeekStart); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("negative Seek: %v", err)
	}
	if n, err := f.WriteAt([]byte("HELLO"), 10); n != 5 || err != nil {
		t.Fatalf("WriteAt: %d %v", n, err)
	}
	copy(data[10:], "HELLO")
	m, err := f.Metadata(ctx)
	if err != nil || m.Size() != int64(len(data)) || m.FileType() != TypeRegular || m.Name() != "round" {
		t.Fatalf("fstat: %+v %v", m, err)
	}
	if err := f.Truncate(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(ctx); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Sync without fsync@openssh.com: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(small); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	checkLocal(t, p, data[:100])
}

func TestShortReadsAreCompleted(t *testing.T) {
	c, dir := client(t, sshtest.SFTPOptions{ShortReads: 1000})
	data := randomBytes(200<<10+5, 3)
	p := filepath.Join(dir, "short")
	writeLocal(t, p, data)
	f, err := c.Open(testCtx(t), p, OpenReadOnly, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]byte, len(data))
	if n, err := f.ReadAt(got, 0); n != len(data) || err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAt: %d %v", n, err)
	}
	var buf bytes.Buffer
	if n, err := f.WriteTo(&buf); n != int64(len(data)) || err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("WriteTo: %d %v", n, err)
	}
}

func TestPathCalls(t *testing.T) {
	c, dir := client(t, sshtest.SFTPOptions{})
	ctx := testCtx(t)
	sub := filepath.Join(dir, "sub")
	if err := c.CreateDir(ctx, sub, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDir(ctx, sub, 0o750); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("CreateDir of an existing dir: %v", err)
	}
	m, err := c.Metadata(ctx, sub)
	if err != nil || !m.IsDir() || m.FileType() != TypeDirectory || m.Name() != "sub" {
		t.Fatalf("stat dir: %+v %v", m, err)
	}
	f := filepath.Join(sub, "a")
	writeLocal(t, f, []byte("hello"))
	if _, err := c.Open(ctx, f, OpenWriteOnly|OpenCreate|OpenExclusive, 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("exclusive create of an existing file: %v", err)
	}
	if err := c.Chmod(ctx, f, 0o640); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	at := mt.Add(time.Hour)
	if err := c.Chtimes(ctx, f, at, mt); err != nil {
		t.Fatal(err)
	}
	if err := c.Chown(ctx, f, os.Getuid(), os.Getgid()); err != nil {
		t.Fatal(err)
	}
	m, err = c.Metadata(ctx, f)
	// pkg/sftp's server reports the mtime as atime: the interop test checks atime.
	if err != nil || m.Mode() != 0o640 || !m.ModTime().Equal(mt) || m.AccessTime().IsZero() ||
		m.Uid() != os.Getuid() || m.Gid() != os.Getgid() || m.Size() != 5 {
		t.Fatalf("stat after changes: mode %v mtime %v atime %v uid %d gid %d size %d, %v",
			m.Mode(), m.ModTime(), m.AccessTime(), m.Uid(), m.Gid(), m.Size(), err)
	}
	if err := c.Truncate(ctx, f, 2); err != nil {
		t.Fatal(err)
	}
	checkLocal(t, f, []byte("he"))
	uid := uint32(0)
	if err := c.SetMetadata(ctx, f, SetAttributes{UID: &uid}); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("UID without GID: %v", err)
	}

	link := filepath.Join(dir, "link")
	if err := c.Symlink(ctx, f, link); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadLink(ctx, link); err != nil || got != f {
		t.Fatalf("ReadLink: %q %v", got, err)
	}
	if m, err := c.SymlinkMetadata(ctx, link); err != nil || m.FileType() != TypeSymlink || m.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("lstat: %v %v", m.Mode(), err)
	}
	if m, err := c.Metadata(ctx, link); err != nil || m.FileType() != TypeRegular {
		t.Fatalf("stat through the link: %v %v", m.Mode(), err)
	}
	if err := c.Symlink(ctx, f, link); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Symlink over an existing name: %v", err)
	}

	hard := filepath.Join(dir, "hard")
	if err := c.Hardlink(ctx, f, hard); err != nil {
		t.Fatal(err)
	}
	checkLocal(t, hard, []byte("he"))

	moved := filepath.Join(dir, "moved")
	if err := c.Rename(ctx, hard, moved); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(hard); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("rename left the source: %v", err)
	}
	// posix-rename replaces the target.
	writeLocal(t, filepath.Join(dir, "other"), []byte("x"))
	if err := c.Rename(ctx, filepath.Join(dir, "other"), moved); err != nil {
		t.Fatal(err)
	}
	checkLocal(t, moved, []byte("x"))

	if got, err := c.Canonicalize(ctx, filepath.Join(sub, "..", "sub")); err != nil || got != sub {
		t.Fatalf("Canonicalize: %q %v", got, err)
	}
	if home, err := c.HomeDir(ctx); err != nil || home != dir {
		t.Fatalf("HomeDir: %q %v (want %q)", home, err, dir)
	}
	if st, err := c.StatVFS(ctx, dir); err != nil || st.BlockSize == 0 || st.TotalSpace() == 0 {
		t.Fatalf("StatVFS: %+v %v", st, err)
	}

	ents, err := c.ReadDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 3 || names[0] != "link" || names[1] != "moved" || names[2] != "sub" {
		t.Fatalf("ReadDir: %v", names)
	}
	if ents[2].LongName() == "" || ents[2].Owner() == "" || ents[2].Group() == "" {
		t.Fatalf("long name %q owner %q group %q", ents[2].LongName(), ents[2].Owner(), ents[2].Group())
	}

	if err := c.RemoveDir(ctx, sub); err == nil {
		t.Fatal("RemoveDir of a non-empty dir succeeded")
	}
	if err := c.RemoveFile(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveDir(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveFile(ctx, f); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("RemoveFile of a missing file: %v", err)
	}
}

func TestStatusErrorMapping(t *testing.T) {
	c, dir := client(t, sshtest.SFTPOptions{})
	ctx := testCtx(t)
	missing := filepath.Join(dir, "missing")
	_, err := c.Metadata(ctx, missing)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != StatusNoSuchFile || se.Op != "stat" || se.Path != missing {
		t.Fatalf("stat of a missing file: %#v", err)
	}
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrExist) {
		t.Fatalf("Is: %v", err)
	}
	for code, target := range map[uint32]error{StatusPermissionDenied: fs.ErrPermission,
		StatusOpUnsupported: errors.ErrUnsupported, StatusFileExists: fs.ErrExist} {
		if !errors.Is(&StatusError{Code: code}, target) {
			t.Errorf("code %d does not match %v", code, target)
		}
	}
	if _, err := c.Open(ctx, missing, OpenReadOnly, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open: %v", err)
	}
	if _, err := c.ReadDir(ctx, missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("readdir: %v", err)
	}
	if _, err := c.ReadLink(ctx, dir); err == nil {
		t.Fatal("ReadLink of a directory succeeded")
	}
}

func TestOpenDirStreams(t *testing.T) {
	c, dir := client(t, sshtest.SFTPOptions{})
	ctx := testCtx(t)
	for i := range 300 { // pkg/sftp answers 128 names per READDIR
		writeLocal(t, filepath.Join(dir, "d", "f"+string(rune('a'+i%26))+string(rune('a'+i/26))), nil)
	}
	d, err := c.OpenDir(ctx, filepath.Join(dir, "d"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		m, err := d.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Name() == "." || m.Name() == ".." {
			t.Fatal("dot entry returned")
		}
		n++
	}
	if n != 300 {
		t.Fatalf("%d entries", n)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	ents, err := c.ReadDir(ctx, filepath.Join(dir, "d"))
	if err != nil || len(ents) != 300 {
		t.Fatalf("ReadDir: %d %v", len(ents), err)
	}
}

func TestFSPassesFSTest(t *testing.T) {
	c, dir := client(t, sshtest.SFTPOptions{})
	writeLocal(t, filepath.Join(dir, "a.txt"), []byte("alpha"))
	writeLocal(t, filepath.Join(dir, "x", "b.txt"), randomBytes(3000, 4))
	writeLocal(t, filepath.Join(dir, "x", "y", "c"), nil)
	sub, err := fs.Sub(c.FS(), dir[1:])
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(sub, "a.txt", "x/b.txt", "x/y/c"); err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(c.FS(), dir[1:]+"/a.txt")
	if err != nil || string(b) != "alpha" {
		t.Fatalf("ReadFile: %q %v", b, err)
	}
	if _, err := fs.Stat(c.FS(), dir[1:]+"/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat of a missing file: %v", err)
	}
	if _, err := c.FS().Open("/abs"); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("invalid path: %v", err)
	}
	var walked []string
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		walked = append(walked, p)
		return nil
	})
	if err != nil || len(walked) != 6 {
		t.Fatalf("WalkDir: %v %v", walked, err)
	}
}
