package sftp

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// makeTree builds a small tree with every kind of entry a transfer meets.
func makeTree(t testing.TB, root string) {
	t.Helper()
	for _, d := range []string{"sub/deeper", "emptydir"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	randomFile(t, filepath.Join(root, "a.txt"), 100, 1)
	randomFile(t, filepath.Join(root, "empty"), 0, 2)
	randomFile(t, filepath.Join(root, "sub", "b.bin"), 300<<10, 3)
	randomFile(t, filepath.Join(root, "sub", "deeper", "c"), 5000, 4)
	for link, target := range map[string]string{"link-to-a": "a.txt", "link-to-sub": "sub", "dangling": "nowhere"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
}

func withoutLinks(list []string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return strings.Contains(s, " link ") })
}

func TestTransferTree(t *testing.T) {
	c, _, _ := xferClient(t, xferServerConfig(xferHandler()))
	ctx := xferCtx(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeTree(t, src)
	all := treeListing(t, src)
	plain := withoutLinks(all)

	// Default: links are left out, as OpenSSH's sftp -r does.
	if err := c.Put(ctx, src, filepath.Join(dir, "put"), Recursive()); err != nil {
		t.Fatal(err)
	}
	if got := treeListing(t, filepath.Join(dir, "put")); !slices.Equal(got, plain) {
		t.Fatalf("Put -r:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(plain, "\n"))
	}
	if err := c.Get(ctx, filepath.Join(dir, "put"), filepath.Join(dir, "got"), Recursive()); err != nil {
		t.Fatal(err)
	}
	if got := treeListing(t, filepath.Join(dir, "got")); !slices.Equal(got, plain) {
		t.Fatalf("Get -r:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(plain, "\n"))
	}

	// SymlinksCopy keeps every link with its target text, both ways.
	if err := c.Put(ctx, src, filepath.Join(dir, "putl"), Recursive(), Symlinks(SymlinksCopy)); err != nil {
		t.Fatal(err)
	}
	if got := treeListing(t, filepath.Join(dir, "putl")); !slices.Equal(got, all) {
		t.Fatalf("Put -r with links:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(all, "\n"))
	}
	if err := c.Get(ctx, filepath.Join(dir, "putl"), filepath.Join(dir, "gotl"), Recursive(), Symlinks(SymlinksCopy)); err != nil {
		t.Fatal(err)
	}
	if got := treeListing(t, filepath.Join(dir, "gotl")); !slices.Equal(got, all) {
		t.Fatalf("Get -r with links:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(all, "\n"))
	}

	// SymlinksFollow copies a link to a file as that file; links to directories and dangling
	// links are left out.
	if err := c.Get(ctx, src, filepath.Join(dir, "gotf"), Recursive(), Symlinks(SymlinksFollow)); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(plain)
	a, _ := os.ReadFile(filepath.Join(src, "a.txt"))
	want = append(want, strings.Replace(plain[slices.IndexFunc(plain, func(s string) bool { return strings.HasPrefix(s, "a.txt ") })], "a.txt", "link-to-a", 1))
	slices.Sort(want)
	got := treeListing(t, filepath.Join(dir, "gotf"))
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("Get -r following links:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	sameFile(t, filepath.Join(dir, "gotf", "link-to-a"), a)

	// Into an existing directory: the tree lands under its own name, merging with what is there.
	into := filepath.Join(dir, "into")
	if err := os.MkdirAll(filepath.Join(into, "src", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, src, into, Recursive()); err != nil {
		t.Fatal(err)
	}
	if got := treeListing(t, filepath.Join(into, "src")); !slices.Equal(got, plain) {
		t.Fatalf("Put -r into a directory:\n%s", strings.Join(got, "\n"))
	}
	for _, d := range []string{"put", "got", "putl", "gotl", "gotf", "into/src"} {
		filepath.WalkDir(filepath.Join(dir, d), func(p string, de fs.DirEntry, err error) error {
			if err == nil && de.IsDir() {
				noTemps(t, p)
			}
			return nil
		})
	}
}

func TestTransferTreePreserveAndProgress(t *testing.T) {
	c, _, _ := xferClient(t, xferServerConfig(xferHandler()))
	ctx := xferCtx(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeTree(t, src)
	old := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chmod(filepath.Join(src, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"sub/deeper/c", "sub/deeper", "sub", "."} {
		if err := os.Chtimes(filepath.Join(src, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	var last, total int64
	err := c.Get(ctx, src, filepath.Join(dir, "got"), Recursive(), PreserveTimes(), PreserveMode(),
		Progress(func(d, tot int64) { last, total = d, tot }))
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(100 + 300<<10 + 5000); last != want || total != want {
		t.Errorf("progress ended at %d of %d, want %d", last, total, want)
	}
	for _, p := range []string{"sub/deeper/c", "sub/deeper", "sub", "."} {
		fi, err := os.Stat(filepath.Join(dir, "got", p))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(old) {
			t.Errorf("%s: mtime %v, want %v", p, fi.ModTime(), old)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, "got", "sub")); fi.Mode().Perm() != 0o750 {
		t.Errorf("sub: mode %v", fi.Mode())
	}

	// A file where the tree needs a directory stops the copy with a matchable error.
	blocked := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(blocked, 0o755); err != nil {
		t.Fatal(err)
	}
	randomFile(t, filepath.Join(blocked, "sub"), 1, 9)
	// blocked names a directory, so the copy of sub is blocked/sub, which is a file.
	err = c.Put(ctx, filepath.Join(src, "sub"), blocked, Recursive())
	var te *TransferError
	if !errors.Is(err, fs.ErrExist) || !errors.As(err, &te) || te.Op != "put" {
		t.Fatalf("tree onto a file: %v", err)
	}
}
