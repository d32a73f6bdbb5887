package sftp

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/libssh-go/libssh/internal/faultrelay"
	"github.com/libssh-go/libssh/ssh"
)

// lowBackoff makes Resume start right at the end of a partial file, so small files show it.
func lowBackoff(t *testing.T) {
	old := resumeBackoff
	resumeBackoff = 0
	t.Cleanup(func() { resumeBackoff = old })
}

func TestTransferResume(t *testing.T) {
	lowBackoff(t)
	c, _, _ := xferClient(t, xferServerConfig(xferHandler()))
	ctx := xferCtx(t)
	const size = 3<<20 + 99
	for _, op := range []string{"get", "put"} {
		t.Run(op, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			want := randomFile(t, src, size, 21)
			copyOp := c.Get
			if op == "put" {
				copyOp = c.Put
			}

			// A partial file left by an earlier Resume.
			dst := filepath.Join(dir, "dst")
			part := filepath.Join(dir, ".dst.part")
			if err := os.WriteFile(part, want[:1<<20+7], 0o644); err != nil {
				t.Fatal(err)
			}
			var first int64 = -1
			if err := copyOp(ctx, src, dst, Resume(), Progress(func(d, _ int64) {
				if first < 0 {
					first = d
				}
			})); err != nil {
				t.Fatal(err)
			}
			sameFile(t, dst, want)
			noTemps(t, dir)
			if first != 1<<20+7 {
				t.Errorf("resume started at %d, want %d", first, 1<<20+7)
			}

			// A target shorter than the source (an interrupted sftp get) is continued.
			if err := os.WriteFile(dst, want[:2<<20], 0o644); err != nil {
				t.Fatal(err)
			}
			first = -1
			if err := copyOp(ctx, src, dst, Resume(), Progress(func(d, _ int64) {
				if first < 0 {
					first = d
				}
			})); err != nil {
				t.Fatal(err)
			}
			sameFile(t, dst, want)
			if first != 2<<20 {
				t.Errorf("resume of the target started at %d", first)
			}

			// A complete target is left alone.
			calls := 0
			if err := copyOp(ctx, src, dst, Resume(), Progress(func(d, tot int64) {
				calls++
				if d != tot {
					t.Errorf("complete target: progress %d of %d", d, tot)
				}
			})); err != nil || calls != 1 {
				t.Fatalf("complete target: %v, %d progress calls", err, calls)
			}
			sameFile(t, dst, want)
			noTemps(t, dir)
		})
	}
}

func TestTransferResumeMismatch(t *testing.T) {
	lowBackoff(t)
	c, _, _ := xferClient(t, xferServerConfig(xferHandler()))
	ctx := xferCtx(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	want := randomFile(t, src, 1<<20, 22)
	dst := filepath.Join(dir, "dst")
	part := filepath.Join(dir, ".dst.part")

	longer := append(append([]byte(nil), want...), 'x')
	changed := append([]byte(nil), want[:500_000]...)
	changed[499_000] ^= 1
	for name, partial := range map[string][]byte{"longer": longer, "tail differs": changed} {
		for _, op := range []func() error{
			func() error { return c.Get(ctx, src, dst, Resume()) },
			func() error { return c.Put(ctx, src, dst, Resume()) },
		} {
			if err := os.WriteFile(part, partial, 0o644); err != nil {
				t.Fatal(err)
			}
			err := op()
			var te *TransferError
			if !errors.Is(err, ErrResumeMismatch) || !errors.As(err, &te) {
				t.Fatalf("%s: %v", name, err)
			}
			sameFile(t, part, partial) // untouched
			if _, err := os.Stat(dst); err == nil {
				t.Fatalf("%s: target created", name)
			}
		}
	}
	// A target longer than the source is not resumed either.
	os.Remove(part)
	if err := os.WriteFile(dst, longer, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, src, dst, Resume()); !errors.Is(err, ErrResumeMismatch) {
		t.Fatalf("longer target: %v", err)
	}
	sameFile(t, dst, longer)
}

// TestTransferDropMidway cuts the connection in the middle of a transfer: the error names the
// first missing offset and matches ssh.ErrDisconnected; without Resume nothing is left behind,
// with Resume the partial file is the contiguous prefix and a second Resume completes it.
func TestTransferDropMidway(t *testing.T) {
	srv := xferServer(t, xferServerConfig(xferHandler()))
	const size = 6 << 20
	for _, tc := range []struct {
		op     string
		dir    faultrelay.Direction
		resume bool
	}{
		{"get", faultrelay.ServerToClient, false},
		{"get", faultrelay.ServerToClient, true},
		{"put", faultrelay.ClientToServer, false},
		{"put", faultrelay.ClientToServer, true},
	} {
		name := tc.op
		if tc.resume {
			name += " resume"
		}
		t.Run(name, func(t *testing.T) {
			ctx := xferCtx(t)
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			want := randomFile(t, src, size, 31)
			dst := filepath.Join(dir, "dst")

			relay := faultrelay.New(t, srv.Addr())
			relay.Set(faultrelay.Fault{Dir: tc.dir, After: 2 << 20, Action: faultrelay.Reset})
			s := xferSession(t, "127.0.0.1", relay.Port(), xferUser, xferPass)
			c, err := New(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var opts []TransferOption
			if tc.resume {
				opts = append(opts, Resume())
			}
			if tc.op == "get" {
				err = c.Get(ctx, src, dst, opts...)
			} else {
				err = c.Put(ctx, src, dst, opts...)
			}
			var te *TransferError
			if !errors.Is(err, ssh.ErrDisconnected) || !errors.As(err, &te) || te.Offset < 0 || te.Offset >= size {
				t.Fatalf("%v (%#v)", err, te)
			}
			t.Logf("%s failed at offset %d: %v", name, te.Offset, err)
			if _, err := os.Stat(dst); err == nil {
				t.Fatal("the target exists after a failed transfer")
			}
			if !tc.resume {
				if tc.op == "get" {
					noTemps(t, dir) // a remote temporary cannot be removed over a dead connection
				}
				return
			}
			part := filepath.Join(dir, ".dst.part")
			fi, err := os.Stat(part)
			if err != nil {
				t.Fatal(err)
			}
			if tc.op == "get" && fi.Size() != te.Offset {
				t.Errorf("partial file has %d bytes, error says %d arrived", fi.Size(), te.Offset)
			}

			// Resume over a good connection.
			s2 := xferSession(t, srv.Host(), srv.Port(), xferUser, xferPass)
			c2, err := New(ctx, s2)
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			if tc.op == "get" {
				err = c2.Get(ctx, src, dst, Resume())
			} else {
				err = c2.Put(ctx, src, dst, Resume())
			}
			if err != nil {
				t.Fatal(err)
			}
			sameFile(t, dst, want)
			noTemps(t, dir)
		})
	}
}
