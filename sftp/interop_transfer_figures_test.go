package sftp

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/interop"
)

// delayRelay forwards TCP connections to target, holding every piece of data for oneWay in
// each direction, which adds 2×oneWay to the round trip (the kernel here has no netem). It is
// for the figures test only; the sleep is the delay, not a synchronisation.
func delayRelay(t testing.TB, target string, oneWay time.Duration) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	pipe := func(src, dst net.Conn) {
		defer wg.Done()
		type piece struct {
			at   time.Time
			data []byte
		}
		q := make(chan piece, 1<<14)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer dst.Close()
			for p := range q {
				time.Sleep(time.Until(p.at))
				if _, err := dst.Write(p.data); err != nil {
					for range q {
					}
					return
				}
			}
		}()
		defer close(q)
		for {
			buf := make([]byte, 64<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- piece{time.Now().Add(oneWay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			wg.Add(2)
			go pipe(c, s)
			go pipe(s, c)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestInteropTransferFigures prints transfer rates against sshd for several channel counts
// and round-trip times, beside OpenSSH's sftp on the same path; it is how
// MultiChannelThreshold and DefaultChannels were chosen. It runs only with
// LIBSSH_SFTP_FIGURES=1 (it takes minutes), and LIBSSH_SFTP_FIGURES_MB sets the file size
// (default 256).
func TestInteropTransferFigures(t *testing.T) {
	if os.Getenv("LIBSSH_SFTP_FIGURES") != "1" {
		t.Skip("figures, not a test: set LIBSSH_SFTP_FIGURES=1")
	}
	env := interop.Start(t, interop.Options{NoAgent: true})
	dir := interopDir(t, env)
	mb := 256
	if v, err := strconv.Atoi(os.Getenv("LIBSSH_SFTP_FIGURES_MB")); err == nil && v > 0 {
		mb = v
	}
	size := int64(mb) << 20
	src := filepath.Join(dir, "src.bin")
	writeRandom(t, src, size, 80)
	rtts := []time.Duration{0, 10 * time.Millisecond, 50 * time.Millisecond}
	if v := os.Getenv("LIBSSH_SFTP_FIGURES_RTT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		rtts = []time.Duration{d}
	}
	for _, rtt := range rtts {
		port := env.Port
		if rtt > 0 {
			port = delayRelay(t, env.Addr, rtt/2)
		}
		c := interopXferClient(t, env, "127.0.0.1", port)
		ctx := xferCtx(t)
		median := func(run func() error) time.Duration {
			var ds []time.Duration
			for range 3 {
				start := time.Now()
				if err := run(); err != nil {
					t.Fatal(err)
				}
				ds = append(ds, time.Since(start))
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			return ds[1]
		}
		rate := func(d time.Duration) string { return fmt.Sprintf("%6.1f MB/s", float64(size)/1e6/d.Seconds()) }
		for _, ch := range []int{1, 2, 4, 8} {
			g := median(func() error { return c.Get(ctx, src, filepath.Join(dir, "got"), Channels(ch)) })
			p := median(func() error { return c.Put(ctx, src, filepath.Join(dir, "put"), Channels(ch)) })
			t.Logf("rtt %v %d MiB channels %d: get %s  put %s", rtt, mb, ch, rate(g), rate(p))
		}
		bin, err := exec.LookPath("sftp")
		if err != nil {
			continue
		}
		openssh := func(cmd string) error {
			batch := filepath.Join(t.TempDir(), "batch")
			if err := os.WriteFile(batch, []byte(cmd+"\n"), 0o644); err != nil {
				return err
			}
			out, err := exec.CommandContext(ctx, bin, "-b", batch, "-F", "/dev/null", "-P", strconv.Itoa(port),
				"-i", env.Keys["ed25519"].Private, "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
				"-o", "BatchMode=yes", "-o", "IdentityAgent=none", env.User+"@127.0.0.1").CombinedOutput()
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		}
		g := median(func() error { return openssh("get " + src + " " + filepath.Join(dir, "ogot")) })
		p := median(func() error { return openssh("put " + src + " " + filepath.Join(dir, "oput")) })
		t.Logf("rtt %v %d MiB OpenSSH sftp: get %s  put %s", rtt, mb, rate(g), rate(p))
	}
}
