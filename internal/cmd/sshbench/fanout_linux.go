package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// Fan-out mode (-fanout N): a fleet tool's shape. A child process (this
// binary, -fanout-child) opens N authenticated sessions to an in-process
// server (package sshtest) running in another child process
// (-fanout-server), keeps them idle, measures itself, then runs one exec
// "true" on every session, fanoutConcurrency at a time. The lib child and
// the x/crypto child run the same code around their client. Beside them,
// 1,000 ssh processes run "true" through xargs -P fanoutConcurrency, once
// against the same sshtest server and once against the bench's sshd.
const (
	fanoutConcurrency = 64 // connects and execs in flight at once
	fanoutSSHProcs    = 1000
	fanoutSettle      = time.Second // idle time before measuring the idle sessions
	fanoutServerFlag  = "fanout-server"
	fanoutChildFlag   = "fanout-child"
)

// fanoutResult is what one client child measured.
type fanoutResult struct {
	baseHeap, heap int64 // HeapAlloc after GC, before connecting / with N idle sessions
	baseRSS, rss   int64 // VmRSS, same moments
	baseGor, gor   int64 // goroutines, same moments
	connect        time.Duration
	wave           time.Duration
}

func (r fanoutResult) line() string {
	return fmt.Sprintf("fanout %d %d %d %d %d %d %d %d", r.baseHeap, r.heap, r.baseRSS, r.rss,
		r.baseGor, r.gor, r.connect.Nanoseconds(), r.wave.Nanoseconds())
}

func parseFanoutLine(s string) (fanoutResult, error) {
	var r fanoutResult
	var c, w int64
	_, err := fmt.Sscanf(s, "fanout %d %d %d %d %d %d %d %d", &r.baseHeap, &r.heap, &r.baseRSS, &r.rss,
		&r.baseGor, &r.gor, &c, &w)
	r.connect, r.wave = time.Duration(c), time.Duration(w)
	return r, err
}

// fanoutServer is the -fanout-server child: an sshtest server that lets
// cfg.user in with the public key of cfg.identity, answers exec "true" with
// status 0, writes its known_hosts line to the file -known-hosts names,
// prints "listening PORT" and serves until its stdin closes.
func fanoutServer(cfg config) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "sshbench fanout server:", err)
		return 1
	}
	pub, err := os.ReadFile(cfg.identity + ".pub")
	if err != nil {
		return fail(err)
	}
	key, _, _, _, err := gossh.ParseAuthorizedKey(pub)
	if err != nil {
		return fail(err)
	}
	var sc sshtest.Config
	sc.AddKeyUser(cfg.user, key)
	sc.Exec = func(ctx sshtest.ExecContext) int { return 0 }
	srv, err := sshtest.Start(sc)
	if err != nil {
		return fail(err)
	}
	defer srv.Close()
	if err := os.WriteFile(cfg.knownHosts, []byte(srv.KnownHostsLine()), 0o600); err != nil {
		return fail(err)
	}
	fmt.Printf("listening %d\n", srv.Port())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// idleStats reads heap (after two GCs), RSS and goroutines.
func idleStats() (heap, rss, gor int64) {
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, _ = vmRSS("/proc/self/status")
	return int64(ms.HeapAlloc), rss, int64(runtime.NumGoroutine())
}

// fanoutChild is the -fanout-child process: N sessions of one client.
func fanoutChild(cfg config) int {
	r, err := runFanout(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sshbench fanout %s child: %v\n", cfg.fanoutChild, err)
		return 1
	}
	fmt.Println(r.line())
	return 0
}

// forEach runs fn(i) for i in [0,n), fanoutConcurrency at a time, and
// returns the first error.
func forEach(n int, fn func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(n, fanoutConcurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = fmt.Errorf("session %d: %w", i, err) })
					next.Store(int64(n)) // stop handing out work
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func runFanout(cfg config) (fanoutResult, error) {
	var r fanoutResult
	n := cfg.fanout
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	t, err := newTarget(cfg.host, cfg.port, cfg.user, cfg.identity, cfg.knownHosts)
	if err != nil {
		return r, err
	}
	var libs []*ssh.Session
	var xs []*gossh.Client
	defer func() {
		for _, s := range libs {
			if s != nil {
				_ = s.Disconnect()
			}
		}
		for _, c := range xs {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	// Warm up once so that lazily built tables (curves, ciphers) are in the
	// baseline, not charged to the sessions.
	if cfg.fanoutChild == "lib" {
		s, err := t.libConnect(ctx, cipherSpec{})
		if err != nil {
			return r, err
		}
		_, err = libChannelLatency(ctx, s)
		_ = s.Disconnect()
		if err != nil {
			return r, err
		}
	} else {
		c, err := t.xDial(ctx, cipherSpec{})
		if err != nil {
			return r, err
		}
		_, err = xChannelLatency(c)
		_ = c.Close()
		if err != nil {
			return r, err
		}
	}
	time.Sleep(fanoutSettle) // let the warm-up connection's goroutines end
	r.baseHeap, r.baseRSS, r.baseGor = idleStats()

	start := time.Now()
	if cfg.fanoutChild == "lib" {
		libs = make([]*ssh.Session, n)
		err = forEach(n, func(i int) error {
			cctx, cancel := context.WithTimeout(ctx, setupTimeout)
			defer cancel()
			s, err := t.libConnect(cctx, cipherSpec{})
			libs[i] = s
			return err
		})
	} else {
		xs = make([]*gossh.Client, n)
		err = forEach(n, func(i int) error {
			cctx, cancel := context.WithTimeout(ctx, setupTimeout)
			defer cancel()
			c, err := t.xDial(cctx, cipherSpec{})
			xs[i] = c
			return err
		})
	}
	r.connect = time.Since(start)
	if err != nil {
		return r, fmt.Errorf("connect: %w", err)
	}
	time.Sleep(fanoutSettle)
	r.heap, r.rss, r.gor = idleStats()

	start = time.Now()
	if cfg.fanoutChild == "lib" {
		err = forEach(n, func(i int) error {
			cctx, cancel := context.WithTimeout(ctx, setupTimeout)
			defer cancel()
			_, err := libChannelLatency(cctx, libs[i])
			return err
		})
	} else {
		err = forEach(n, func(i int) error {
			_, err := xChannelLatency(xs[i])
			return err
		})
	}
	r.wave = time.Since(start)
	if err != nil {
		return r, fmt.Errorf("exec wave: %w", err)
	}
	return r, nil
}

// fanoutBench is the -fanout run of the bench: it replaces the normal
// table with the fan-out table.
func (b *bench) fanoutBench(ctx context.Context) int {
	// Each idle session is a socket in the client child and another in
	// the server child; both inherit this process's limit.
	if soft, hard, err := raiseFileLimit(); err != nil {
		b.logf("RLIMIT_NOFILE: %v", err)
	} else if need := uint64(b.cfg.fanout) + 256; soft < need {
		b.logf("RLIMIT_NOFILE is %d (hard %d): %d sessions need about %d; raise the hard limit", soft, hard, b.cfg.fanout, need)
		return 1
	}
	if err := b.setTarget(ctx); err != nil {
		b.logf("%v", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "sshbench-fanout")
	if err != nil {
		b.logf("%v", err)
		return 1
	}
	defer os.RemoveAll(dir)
	srvT, stopSrv, err := b.startFanoutServer(ctx, dir)
	if err != nil {
		b.logf("fanout server: %v", err)
		return 1
	}
	defer stopSrv()

	var res [2][]fanoutResult
	names := []string{"lib", "xcrypto"}
	for run := range b.cfg.runs {
		for i, name := range names {
			if run%2 == 1 {
				i = 1 - i
				name = names[i]
			}
			b.logf("fanout run %d/%d: %s, %d sessions", run+1, b.cfg.runs, name, b.cfg.fanout)
			r, err := b.fanoutChildRun(ctx, srvT, name)
			if err != nil {
				b.logf("fanout %s: %v", name, err)
				b.errs = append(b.errs, fmt.Sprintf("fanout %s: %v", name, err))
				continue
			}
			res[i] = append(res[i], r)
		}
	}
	ossh := openssh{t: b.t, procs: b.procs}
	ossrv := openssh{t: srvT, procs: b.procs}
	var sshSshtest, sshSSHD []float64
	// Once, whatever -runs says: 1,000 ssh processes against sshd fork
	// 2,000 sshd processes and load a small machine for minutes.
	for run := range 1 {
		b.logf("ssh x %d via xargs -P %d, run %d", fanoutSSHProcs, fanoutConcurrency, run+1)
		if d, err := xargsSSH(ctx, ossrv); err != nil {
			b.errs = append(b.errs, fmt.Sprintf("ssh xargs (sshtest): %v", err))
		} else {
			sshSshtest = append(sshSshtest, d.Seconds())
		}
		if d, err := xargsSSH(ctx, ossh); err != nil {
			b.errs = append(b.errs, fmt.Sprintf("ssh xargs (sshd): %v", err))
		} else {
			sshSSHD = append(sshSSHD, d.Seconds())
		}
	}
	b.writeFanout(os.Stdout, res, sshSshtest, sshSSHD)
	if b.cfg.out != "" {
		var buf bytes.Buffer
		b.writeFanout(&buf, res, sshSshtest, sshSSHD)
		if err := os.WriteFile(b.cfg.out, buf.Bytes(), 0o644); err != nil {
			b.logf("%v", err)
			return 1
		}
	}
	if len(b.errs) > 0 {
		return 1
	}
	return 0
}

// startFanoutServer starts the -fanout-server child (on the server core with
// -pin) and returns a target for it and a function that stops it.
func (b *bench) startFanoutServer(ctx context.Context, dir string) (*target, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	kh := filepath.Join(dir, "known_hosts")
	cmd := exec.Command(exe, "-"+fanoutServerFlag, "-user", b.t.user, "-identity", b.t.identity, "-known-hosts", kh)
	if b.pin != nil {
		cmd.Env = pinChildEnv(b.pin.server)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	cmd.Stderr = os.Stderr
	if err := b.procs.start(cmd, syscall.SIGKILL); err != nil {
		return nil, nil, err
	}
	stop := func() {
		_ = stdin.Close()
		_ = b.procs.wait(cmd)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var port int
	if err == nil {
		_, err = fmt.Sscanf(line, "listening %d", &port)
	}
	if err != nil {
		_ = cmd.Process.Kill()
		stop()
		return nil, nil, fmt.Errorf("no listening line: %w", err)
	}
	t, err := newTarget("127.0.0.1", port, b.t.user, b.t.identity, kh)
	if err != nil {
		stop()
		return nil, nil, err
	}
	return t, stop, nil
}

// fanoutChildRun runs one client child against t.
func (b *bench) fanoutChildRun(ctx context.Context, t *target, client string) (fanoutResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return fanoutResult{}, err
	}
	cmd := exec.CommandContext(ctx, exe, "-"+fanoutChildFlag+"="+client, "-fanout", strconv.Itoa(b.cfg.fanout),
		"-host", t.host, "-port", strconv.Itoa(t.port), "-user", t.user, "-identity", t.identity, "-known-hosts", t.knownHosts)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := b.procs.start(cmd, syscall.SIGKILL); err != nil {
		return fanoutResult{}, err
	}
	if err := b.procs.wait(cmd); err != nil {
		return fanoutResult{}, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return parseFanoutLine(stdout.String())
}

// xargsSSH runs fanoutSSHProcs "ssh host true" processes through
// xargs -P fanoutConcurrency and returns the wall time.
func xargsSSH(ctx context.Context, o openssh) (time.Duration, error) {
	// xargs appends the input word to the command line: the remote command
	// is "true x", which is still true.
	args := append([]string{"-P", strconv.Itoa(fanoutConcurrency), "-n", "1", "ssh"}, o.args(cipherSpec{}, false, "true")...)
	cmd := exec.CommandContext(ctx, "xargs", args...)
	cmd.Stdin = strings.NewReader(strings.Repeat("x\n", fanoutSSHProcs))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := o.procs.start(cmd, syscall.SIGKILL); err != nil {
		return 0, err
	}
	err := o.procs.wait(cmd)
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%w: %s", err, lastLines(stderr.String(), 3))
	}
	return d, nil
}

func medianOf(rs []fanoutResult, f func(fanoutResult) float64) float64 {
	var v []float64
	for _, r := range rs {
		v = append(v, f(r))
	}
	if len(v) == 0 {
		return 0
	}
	return median(v)
}

// writeFanout prints the fan-out table.
func (b *bench) writeFanout(w io.Writer, res [2][]fanoutResult, sshSshtest, sshSSHD []float64) {
	n := float64(b.cfg.fanout)
	fmt.Fprintf(w, "sshbench -fanout %d: %d idle authenticated sessions in one process, medians of %d run(s)\n\n", b.cfg.fanout, b.cfg.fanout, b.cfg.runs)
	fmt.Fprintf(w, "%-44s %-10s %10s %10s %10s\n", "measurement", "unit", "lib", "xcrypto", "lib/xcrypto")
	row := func(name, unit string, f func(fanoutResult) float64) {
		l, x := medianOf(res[0], f), medianOf(res[1], f)
		ratio := "-"
		if x != 0 {
			ratio = fmt.Sprintf("%.2f", l/x)
		}
		fmt.Fprintf(w, "%-44s %-10s %10.2f %10.2f %10s\n", name, unit, l, x, ratio)
	}
	row("heap per idle session (over baseline)", "KiB", func(r fanoutResult) float64 { return float64(r.heap-r.baseHeap) / n / 1024 })
	row("RSS per idle session (over baseline)", "KiB", func(r fanoutResult) float64 { return float64(r.rss-r.baseRSS) / n / 1024 })
	row("goroutines per idle session", "count", func(r fanoutResult) float64 { return float64(r.gor-r.baseGor) / n })
	row("time to connect+auth all", "s", func(r fanoutResult) float64 { return r.connect.Seconds() })
	row(fmt.Sprintf("exec wave, all sessions, -P %d", fanoutConcurrency), "s", func(r fanoutResult) float64 { return r.wave.Seconds() })
	row(fmt.Sprintf("exec wave per %d sessions", fanoutSSHProcs), "s", func(r fanoutResult) float64 { return r.wave.Seconds() / n * fanoutSSHProcs })
	ssh := func(v []float64) string {
		if len(v) == 0 {
			return "error"
		}
		return fmt.Sprintf("%.2f", median(v))
	}
	fmt.Fprintf(w, "%-44s %-10s %10s\n", fmt.Sprintf("%d ssh processes, xargs -P %d, sshtest", fanoutSSHProcs, fanoutConcurrency), "s", ssh(sshSshtest))
	fmt.Fprintf(w, "%-44s %-10s %10s\n", fmt.Sprintf("%d ssh processes, xargs -P %d, sshd", fanoutSSHProcs, fanoutConcurrency), "s", ssh(sshSSHD))
	fmt.Fprintln(w)
	notes := []string{
		"server: package sshtest in a child process of this binary; lib and xcrypto each in their own child process (same binary), one run each per -runs.",
		fmt.Sprintf("connect and exec wave: %d in flight at once; exec = open a session channel, exec true, exit status, close.", fanoutConcurrency),
		"heap = runtime.MemStats.HeapAlloc after two GCs; RSS = VmRSS after debug.FreeOSMemory; both minus the figure before connecting (after one warm-up connection).",
		"ssh processes: one run each (not -runs): against sshd they fork two sshd processes per connection and load the machine for minutes.",
		"goal (issue 13): <= 64 KiB heap and <= 6 goroutines per idle session; exec wave over 1,000 sessions faster than 1,000 ssh processes.",
		b.pinNote(),
		"load average at the end: " + loadAvg(),
	}
	notes = append(notes, b.errs...)
	for _, s := range notes {
		fmt.Fprintln(w, "* "+s)
	}
}

// raiseFileLimit raises this process's soft limit of open files to its hard
// limit (children inherit it) and returns both.
func raiseFileLimit() (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, 0, err
		}
	}
	return lim.Cur, lim.Max, nil
}
