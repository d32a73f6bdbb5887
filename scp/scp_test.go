package scp

import (
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":       "'plain'",
		"it's":        `'it'\''s'`,
		"$(rm -rf /)": "'$(rm -rf /)'",
		"a b;c":       "'a b;c'",
		"''":          `''\'''\'''`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := command("-t", config{recursive: true, preserve: true}, "-x y"); got != "scp -t -r -p -- '-x y'" {
		t.Errorf("command = %q", got)
	}
}

func TestPutGetFileWithRealSCP(t *testing.T) {
	dir := t.TempDir()
	s := login(t, realSCP(t, dir))
	ctx := testCtx(t)
	src := filepath.Join(dir, "src.bin")
	data := randomFile(t, src, 3<<20+17)
	remote := filepath.Join(dir, "remote.bin")

	var calls, lastDone, lastTotal int64
	progress := Progress(func(done, total int64) {
		if done < lastDone {
			t.Errorf("progress went back from %d to %d", lastDone, done)
		}
		calls++
		lastDone, lastTotal = done, total
	})
	if err := Put(ctx, s, src, remote, progress); err != nil {
		t.Fatal(err)
	}
	sameFile(t, remote, data)
	if calls < 2 || lastDone != int64(len(data)) || lastTotal != int64(len(data)) {
		t.Fatalf("put progress: %d calls, last %d/%d", calls, lastDone, lastTotal)
	}

	calls, lastDone, lastTotal = 0, 0, 0
	back := filepath.Join(dir, "back.bin")
	if err := Get(ctx, s, remote, back, progress); err != nil {
		t.Fatal(err)
	}
	sameFile(t, back, data)
	if calls < 2 || lastDone != int64(len(data)) || lastTotal != int64(len(data)) {
		t.Fatalf("get progress: %d calls, last %d/%d", calls, lastDone, lastTotal)
	}

	// Into an existing directory: the copy takes the source's base name;
	// an existing file is replaced; an empty file works.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Get(ctx, s, remote, sub); err != nil {
		t.Fatal(err)
	}
	sameFile(t, filepath.Join(sub, "remote.bin"), data)
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Put(ctx, s, empty, filepath.Join(sub, "remote.bin")); err != nil {
		t.Fatal(err)
	}
	sameFile(t, filepath.Join(sub, "remote.bin"), nil)
	if err := Put(ctx, s, src, sub); err != nil {
		t.Fatal(err)
	}
	sameFile(t, filepath.Join(sub, "src.bin"), data)
	noStrayFiles(t, sub, "remote.bin", "src.bin")
	noStrayFiles(t, dir, "src.bin", "remote.bin", "back.bin", "sub", "empty")
}

// Names a shell would interpret reach the remote scp as written, and
// nothing is executed: the planted commands would create "pwned".
func TestShellMetacharactersInRemoteNames(t *testing.T) {
	dir := t.TempDir()
	s := login(t, realSCP(t, dir))
	ctx := testCtx(t)
	src := filepath.Join(dir, "src")
	data := randomFile(t, src, 1000)
	pwned := filepath.Join(dir, "pwned")
	names := []string{
		"with space",
		"it's quoted",
		`dq"uote`,
		"$(touch pwned)",
		"`touch pwned`",
		"semi;touch pwned;",
		"nl;touch pwned\\",
		"-rf",
		"star*",
		"back\\slash",
		"tab\there",
		"amp&&touch pwned",
		"'; touch pwned; '",
		"pipe|cat",
		"redir>out",
		"ünïcødé",
	}
	remoteDir := filepath.Join(dir, "remote")
	if err := os.Mkdir(remoteDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		remote := filepath.Join(remoteDir, name)
		if err := Put(ctx, s, src, remote); err != nil {
			t.Fatalf("Put %q: %v", name, err)
		}
		sameFile(t, remote, data)
		back := filepath.Join(dir, "back")
		if err := Get(ctx, s, remote, back); err != nil {
			t.Fatalf("Get %q: %v", name, err)
		}
		sameFile(t, back, data)
	}
	noStrayFiles(t, remoteDir, names...)
	if _, err := os.Stat(pwned); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a remote name was executed: %v", err)
	}
}

// A newline or NUL cannot be carried: refused before any command runs.
func TestUnsendableNamesRefused(t *testing.T) {
	cmds := make(chan string, 10)
	s := login(t, scripted(cmds, false))
	ctx := testCtx(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	randomFile(t, src, 10)
	for _, name := range []string{"new\nline", "nul\x00", ""} {
		if err := Get(ctx, s, name, filepath.Join(dir, "x")); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Get %q: %v", name, err)
		}
		if err := Put(ctx, s, src, name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Put %q: %v", name, err)
		}
	}
	for _, name := range []string{"/", ".", "dir/..", "/tmp/.", "//"} {
		if err := Get(ctx, s, name, filepath.Join(dir, "x")); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Get %q: %v", name, err)
		}
	}
	// A local tree holding a name with a newline fails before sending.
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "bad\nname"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Put(ctx, s, tree, "/tmp/x", Recursive()); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Put tree: %v", err)
	}
	if err := Put(ctx, s, tree, "/tmp/x"); !errors.Is(err, ErrIsDirectory) {
		t.Errorf("Put directory without Recursive: %v", err)
	}
	select {
	case c := <-cmds:
		t.Fatalf("a command was run: %q", c)
	default:
	}
}

func TestRecursivePreserveWithRealSCP(t *testing.T) {
	dir := t.TempDir()
	s := login(t, realSCP(t, dir))
	ctx := testCtx(t)
	tree := filepath.Join(dir, "tree")
	for _, d := range []string{"a/b/c", "empty", "with space"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"top.txt":          "top",
		"a/one":            "1",
		"a/b/two":          strings.Repeat("2", 100000),
		"a/b/c/three":      "",
		"with space/it's":  "quote",
		"a/b/c/mode-0600x": "private",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(tree, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(tree, "a/b/c/mode-0600x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("top.txt", filepath.Join(tree, "link")); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, p := range []string{"top.txt", "a/b/two", "a/b"} {
		if err := os.Chtimes(filepath.Join(tree, p), old, old); err != nil {
			t.Fatal(err)
		}
	}

	remote := filepath.Join(dir, "remote")
	var lastDone, lastTotal int64
	if err := Put(ctx, s, tree, remote, Recursive(), PreserveTimes(),
		Progress(func(d, tot int64) { lastDone, lastTotal = d, tot })); err != nil {
		t.Fatal(err)
	}
	if got := treeFiles(t, remote); !maps.Equal(got, files) {
		t.Fatalf("remote tree %v, want %v", got, files)
	}
	if lastDone != 100000+3+1+5+7 || lastDone != lastTotal {
		t.Fatalf("put progress %d/%d", lastDone, lastTotal)
	}
	back := filepath.Join(dir, "back")
	if err := os.Mkdir(back, 0o755); err != nil {
		t.Fatal(err)
	}
	lastDone, lastTotal = 0, 0
	if err := Get(ctx, s, remote, back, Recursive(), PreserveTimes(),
		Progress(func(d, tot int64) { lastDone, lastTotal = d, tot })); err != nil {
		t.Fatal(err)
	}
	got := filepath.Join(back, "remote")
	if gf := treeFiles(t, got); !maps.Equal(gf, files) {
		t.Fatalf("tree got back %v, want %v", gf, files)
	}
	if lastDone != 100000+3+1+5+7 || lastDone != lastTotal {
		t.Fatalf("get progress %d/%d", lastDone, lastTotal)
	}
	for _, p := range []string{"top.txt", "a/b/two", "a/b"} {
		fi, err := os.Stat(filepath.Join(got, p))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(old) {
			t.Errorf("%s: mtime %v, want %v", p, fi.ModTime(), old)
		}
	}
	fi, err := os.Stat(filepath.Join(got, "a/b/c/mode-0600x"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v, %v", fi.Mode(), err)
	}
	if _, err := os.Lstat(filepath.Join(got, "link")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a symlink inside the tree was sent: %v", err)
	}
	// A second Get merges into the existing tree.
	if err := Get(ctx, s, remote, back, Recursive()); err != nil {
		t.Fatal(err)
	}
	// Without Recursive a directory is the remote scp's refusal.
	if err := Get(ctx, s, remote, filepath.Join(dir, "x")); !errors.Is(err, ErrRemote) {
		t.Fatalf("Get of a directory without Recursive: %v", err)
	}
}

func TestRemoteRefusalsAreTyped(t *testing.T) {
	dir := t.TempDir()
	s := login(t, realSCP(t, dir))
	ctx := testCtx(t)
	err := Get(ctx, s, filepath.Join(dir, "missing"), filepath.Join(dir, "x"))
	var se *Error
	if !errors.As(err, &se) || !errors.Is(err, ErrRemote) || !errors.Is(err, fs.ErrNotExist) ||
		se.Op != "get" || !strings.Contains(se.Message, "No such file or directory") {
		t.Fatalf("Get of a missing file: %#v", err)
	}
	noStrayFiles(t, dir)
	src := filepath.Join(dir, "src")
	randomFile(t, src, 10)
	err = Put(ctx, s, src, filepath.Join(dir, "no/such/dir/f"))
	if !errors.As(err, &se) || !errors.Is(err, ErrRemote) || se.Op != "put" || se.Message == "" {
		t.Fatalf("Put into a missing directory: %#v", err)
	}
}

// Data a server sends about files that were not asked for, with bad names,
// too long or cut short, or garbage, is refused; nothing is left under the
// target's name, nor a temporary file.
func TestHostileSource(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
		want  error
		keep  []string // files that may exist afterwards
		opts  []Option
	}{
		{"other name", []step{{1, "C0644 3 other\n"}, {1, "abc\x00"}, {1, ""}}, ErrInvalidName, nil, nil},
		{"path in name", []step{{1, "C0644 3 ../f\n"}}, ErrInvalidName, nil, nil},
		{"slash name", []step{{1, "C0644 3 /etc/f\n"}}, ErrInvalidName, nil, nil},
		{"dot dot dir", []step{{1, "D0755 0 f\n"}, {1, "C0644 1 ..\n"}}, ErrInvalidName, []string{"f"}, []Option{Recursive()}},
		{"dot dir", []step{{1, "D0755 0 f\n"}, {1, "D0755 0 .\n"}}, ErrInvalidName, []string{"f"}, []Option{Recursive()}},
		{"empty name in dir", []step{{1, "D0755 0 f\n"}, {1, "C0644 1 \n"}}, ErrInvalidName, []string{"f"}, []Option{Recursive()}},
		{"longer than announced", []step{{1, "C0644 3 f\n"}, {1, "abcdefgh"}}, ErrProtocol, nil, nil},
		{"truncated", []step{{1, "C0644 10 f\n"}, {1, "abc"}}, ErrTruncated, nil, nil},
		{"no status after data", []step{{1, "C0644 3 f\n"}, {1, "abc"}}, ErrTruncated, nil, nil},
		{"garbage", []step{{1, "Xhello\n"}}, ErrProtocol, nil, nil},
		{"bad size", []step{{1, "C0644 -3 f\n"}}, ErrProtocol, nil, nil},
		{"huge size text", []step{{1, "C0644 99999999999999999999 f\n"}}, ErrProtocol, nil, nil},
		{"bad mode", []step{{1, "C9999 3 f\n"}}, ErrProtocol, nil, nil},
		{"endless line", []step{{1, "C0644 3 " + strings.Repeat("x", 20000)}}, ErrProtocol, nil, nil},
		{"dir without -r", []step{{1, "D0755 0 f\n"}}, ErrProtocol, nil, nil},
		{"stray end", []step{{1, "E\n"}}, ErrProtocol, nil, nil},
		{"bad time", []step{{1, "T1 2 3\n"}}, ErrProtocol, nil, nil},
		{"second file", []step{{1, "C0644 1 f\n"}, {1, "a\x00"}, {1, "C0644 1 g\n"}}, ErrProtocol, []string{"f"}, nil},
		{"fatal", []step{{1, "\x02scp: disk on fire\n"}}, ErrRemote, nil, nil},
		{"bad status", []step{{1, "C0644 1 f\n"}, {1, "a\x01scp: f: read error\n"}}, ErrRemote, nil, nil},
		{"nothing", []step{{1, ""}}, ErrRemote, nil, nil}, // exits 1 without a word
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := login(t, scripted(nil, false, tc.steps...))
			dir := t.TempDir()
			err := Get(testCtx(t), s, "/remote/f", filepath.Join(dir, "f"), tc.opts...)
			var se *Error
			if !errors.Is(err, tc.want) || !errors.As(err, &se) || se.Path != "/remote/f" {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == ErrTruncated && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("truncation does not match io.ErrUnexpectedEOF: %v", err)
			}
			noStrayFiles(t, dir, tc.keep...)
		})
	}
	t.Run("tree with bad inner name", func(t *testing.T) {
		s := login(t, scripted(nil, false, step{1, "D0755 0 f\n"}, step{1, "C0644 1 ok\n"}, step{1, "a\x00"}, step{1, "C0644 1 a/b\n"}))
		dir := t.TempDir()
		if err := Get(testCtx(t), s, "f", dir, Recursive()); !errors.Is(err, ErrInvalidName) {
			t.Fatalf("err = %v", err)
		}
		noStrayFiles(t, dir, "f")
		noStrayFiles(t, filepath.Join(dir, "f"), "ok")
	})
	t.Run("endless nesting", func(t *testing.T) {
		steps := []step{{1, "D0755 0 f\n"}}
		for range maxDepth + 1 {
			steps = append(steps, step{1, "D0755 0 d\n"})
		}
		s := login(t, scripted(nil, false, steps...))
		if err := Get(testCtx(t), s, "f", t.TempDir(), Recursive()); !errors.Is(err, ErrProtocol) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("directory cut short", func(t *testing.T) {
		s := login(t, scripted(nil, false, step{1, "D0755 0 f\n"}, step{1, "C0644 1 ok\n"}, step{1, "a\x00"}, step{1, ""}))
		dir := t.TempDir()
		if err := Get(testCtx(t), s, "f", dir, Recursive()); !errors.Is(err, ErrTruncated) {
			t.Fatalf("err = %v", err)
		}
	})
}
