package sftp

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkInterop moves a file through OpenSSH's sshd on loopback with
// this package and with OpenSSH's sftp client, reporting MB/s of each
// (LIBSSH_INTEROP=1; size from SFTP_BENCH_MB, default 256).
func BenchmarkInterop(b *testing.B) {
	env := interopEnv(b)
	mb := 256
	if v, err := strconv.Atoi(os.Getenv("SFTP_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	size := int64(mb) << 20
	dir := sharedDir(b)
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, randomBytes(int(size), 9), 0o644); err != nil {
		b.Fatal(err)
	}
	c, err := New(testCtx(b), interopSession(b, env))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	rate := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }

	b.Run("get", func(b *testing.B) {
		for b.Loop() {
			f, err := c.Open(testCtx(b), src, OpenReadOnly, 0)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			n, err := f.WriteTo(io.Discard)
			if err != nil || n != size {
				b.Fatal(n, err)
			}
			b.ReportMetric(rate(time.Since(start)), "MB/s")
			_ = f.Close()
		}
	})
	b.Run("put", func(b *testing.B) {
		for b.Loop() {
			in, err := os.Open(src)
			if err != nil {
				b.Fatal(err)
			}
			f, err := c.Create(testCtx(b), filepath.Join(dir, "put"))
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			n, err := f.ReadFrom(in)
			if err != nil || n != size {
				b.Fatal(n, err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(rate(time.Since(start)), "MB/s")
			_ = in.Close()
		}
	})
	for _, dirn := range []string{"get", "put"} {
		b.Run("openssh-"+dirn, func(b *testing.B) {
			for b.Loop() {
				batch := fmt.Sprintf("get %s /dev/null\n", src)
				if dirn == "put" {
					batch = fmt.Sprintf("put %s %s\n", src, filepath.Join(dir, "put2"))
				}
				bf := filepath.Join(b.TempDir(), "batch")
				_ = os.WriteFile(bf, []byte(batch), 0o644)
				cmd := exec.Command("sftp", "-F", "/dev/null", "-P", strconv.Itoa(env.Port),
					"-i", env.Keys["ed25519"].Private, "-o", "UserKnownHostsFile="+env.KnownHostsFile,
					"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-b", bf, env.User+"@"+env.Host)
				start := time.Now()
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v %s", err, out)
				}
				b.ReportMetric(rate(time.Since(start)), "MB/s")
			}
		})
	}
}
