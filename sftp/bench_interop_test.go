package sftp

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkInterop moves a file through OpenSSH's sshd on loopback with
// this package and with OpenSSH's sftp client, in interleaved rounds, and
// reports the median MB/s of each and their ratios (LIBSSH_INTEROP=1; size
// from SFTP_BENCH_MB, default 256). OpenSSH's figures have its start-up
// (process, key exchange, login: the median of a "pwd" batch) subtracted.
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
	var opts []Option // SFTP_BENCH_INFLIGHT and SFTP_BENCH_REQUEST tune the client
	if v, err := strconv.Atoi(os.Getenv("SFTP_BENCH_INFLIGHT")); err == nil {
		opts = append(opts, MaxInFlight(v))
	}
	if v, err := strconv.Atoi(os.Getenv("SFTP_BENCH_REQUEST")); err == nil {
		opts = append(opts, MaxRequestSize(v))
	}
	c, err := New(testCtx(b), interopSession(b, env), opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()

	timed := func(fn func()) time.Duration { start := time.Now(); fn(); return time.Since(start) }
	get := func() {
		f, err := c.Open(testCtx(b), src, OpenReadOnly, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if n, err := f.WriteTo(io.Discard); err != nil || n != size {
			b.Fatal(n, err)
		}
	}
	put := func() {
		in, err := os.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		defer in.Close()
		f, err := c.Create(testCtx(b), filepath.Join(dir, "put"))
		if err != nil {
			b.Fatal(err)
		}
		if n, err := f.ReadFrom(in); err != nil || n != size {
			b.Fatal(n, err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	openssh := func(batch string) func() {
		return func() {
			bf := filepath.Join(b.TempDir(), "batch")
			_ = os.WriteFile(bf, []byte(batch), 0o644)
			cmd := exec.Command("sftp", "-F", "/dev/null", "-P", strconv.Itoa(env.Port),
				"-i", env.Keys["ed25519"].Private, "-o", "UserKnownHostsFile="+env.KnownHostsFile,
				"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-b", bf, env.User+"@"+env.Host)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v %s", err, out)
			}
		}
	}
	runs := map[string][]time.Duration{}
	for b.Loop() {
		runs["get"] = append(runs["get"], timed(get))
		runs["sftp-get"] = append(runs["sftp-get"], timed(openssh(fmt.Sprintf("get %s /dev/null\n", src))))
		runs["put"] = append(runs["put"], timed(put))
		runs["sftp-put"] = append(runs["sftp-put"], timed(openssh(fmt.Sprintf("put %s %s\n", src, filepath.Join(dir, "put2")))))
		runs["sftp-setup"] = append(runs["sftp-setup"], timed(openssh("pwd\n")))
	}
	median := func(k string) time.Duration { d := slices.Clone(runs[k]); slices.Sort(d); return d[len(d)/2] }
	rate := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
	setup := median("sftp-setup")
	for _, dir := range []string{"get", "put"} {
		ours, theirs := rate(median(dir)), rate(median("sftp-"+dir)-setup)
		b.ReportMetric(ours, dir+"-MB/s")
		b.ReportMetric(theirs, "openssh-"+dir+"-MB/s")
		b.ReportMetric(ours/theirs, dir+"-ratio")
	}
	b.ReportMetric(setup.Seconds(), "openssh-setup-s")
}
