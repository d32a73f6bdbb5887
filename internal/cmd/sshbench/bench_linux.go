package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// rssSamples is how many idle sessions each client's RSS is the median of.
	rssSamples = 3
	// setupTimeout bounds one connection or one latency sample.
	setupTimeout = time.Minute
)

// bench is one run of the tool.
type bench struct {
	cfg   config
	procs *procTracker
	t     *target

	mu      sync.Mutex
	server  *sshd // nil with -host, or once stopped
	cleanup sync.Once

	pin *pinning // -pin, else nil

	rows  seriesSet
	notes []string
	errs  []string
}

// run is the whole bench (or the RSS child). It returns the exit code.
func run(cfg config) int {
	if err := pinChild(); err != nil {
		fmt.Fprintln(os.Stderr, "sshbench:", err)
		return 1
	}
	if cfg.rssChild != "" {
		return rssChild(cfg)
	}
	if cfg.fanoutServer {
		return fanoutServer(cfg)
	}
	if cfg.fanoutChild != "" {
		return fanoutChild(cfg)
	}
	b := &bench{cfg: cfg, procs: newProcTracker()}
	if cfg.pin {
		p, err := pinnedRun()
		if err != nil {
			b.logf("%v", err)
			return 1
		}
		b.pin = &p
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Ctrl-C (or a kill) stops sshd and every child before exiting. The
	// clients' connections close when the process exits, which ends
	// sshd's per-connection processes.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case sig := <-sigs:
			cancel()
			b.logf("%v: stopping sshd and child processes", sig)
			b.stop(false)
			os.Exit(130)
		case <-finished:
		}
	}()
	defer b.stop(true)
	if cfg.fanout > 0 {
		return b.fanoutBench(ctx)
	}

	if cfg.sftp {
		return b.runFiles(ctx)
	}
	rep, err := b.measure(ctx)
	if err != nil {
		b.logf("%v", err)
		return 1
	}
	if err := rep.writeText(os.Stdout); err != nil {
		b.logf("%v", err)
		return 1
	}
	if cfg.out != "" {
		f, err := os.Create(cfg.out)
		if err == nil {
			err = rep.writeMarkdown(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			b.logf("writing %s: %v", cfg.out, err)
			return 1
		}
	}
	if len(b.errs) > 0 {
		return 1
	}
	return 0
}

// runFiles is run for -sftp: the file-transfer table.
func (b *bench) runFiles(ctx context.Context) int {
	if err := b.setTarget(ctx); err != nil {
		b.logf("%v", err)
		return 1
	}
	facts, err := b.facts(ctx)
	if err != nil {
		b.logf("%v", err)
		return 1
	}
	rep, err := b.measureFiles(ctx)
	if err != nil {
		b.logf("%v", err)
		return 1
	}
	rep.Title = fmt.Sprintf("sshbench -sftp: one %s file per transfer, median of %d run(s), MB/s", formatSize(b.cfg.size), b.cfg.runs)
	rep.Facts = facts
	rep.Notes = append([]string{
		"MB/s = 10^6 bytes per second, higher is better; ratios are the first client's MB/s over the second's, measured in the same run.",
		"Go clients: time from the Get/Put call (on a connection authenticated and, for sftp, a client started beforehand) to its return; every transfer has its own connection.",
		"OpenSSH sftp -b and scp -O: the process's wall time minus its connect+auth+exit overhead at that RTT (below); sftp's own defaults (32 KiB requests, 64 in flight).",
		"lib-sftp: package sftp's defaults (Channels chosen by size); lib-sftp-1ch: Channels(1). pkg-sftp: github.com/pkg/sftp defaults; pkg-sftp-conc: UseConcurrentReads/Writes, MaxConcurrentRequestsPerFile(128), MaxPacketUnchecked(255 KiB).",
		"RTT rows go through internal/delayproxy (RTT/2 added each way, bandwidth not limited by the relay); every result file's sha256 was checked against the source outside the timed part.",
	}, rep.Notes...)
	rep.Notes = append(rep.Notes, "load average at the end: "+loadAvg())
	rep.Notes = append(rep.Notes, b.errs...)
	if err := rep.writeText(os.Stdout); err != nil {
		b.logf("%v", err)
		return 1
	}
	if b.cfg.out != "" {
		f, err := os.Create(b.cfg.out)
		if err == nil {
			err = rep.writeMarkdown(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			b.logf("writing %s: %v", b.cfg.out, err)
			return 1
		}
	}
	if len(b.errs) > 0 {
		return 1
	}
	return 0
}

// logf prints progress to stderr.
func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "sshbench: "+format+"\n", args...)
}

// stop ends sshd and every child process, once. graceful waits for sshd's
// connection processes first (see sshd.kill); an interrupt does not.
func (b *bench) stop(graceful bool) {
	b.cleanup.Do(func() {
		b.mu.Lock()
		server := b.server
		b.server = nil
		b.mu.Unlock()
		if server != nil {
			server.stop(graceful)
		}
		b.procs.killAll()
	})
}

// fail records a failed measurement: its cell shows "error", the notes the
// reason.
func (b *bench) fail(s *series, client int, err error) {
	s.fail(client)
	msg := fmt.Sprintf("%s, %s: %v", s.Name, clientName(client), err)
	b.errs = append(b.errs, msg)
	b.logf("error: %s", msg)
}

// measure runs every measurement and builds the report.
func (b *bench) measure(ctx context.Context) (report, error) {
	if err := b.setTarget(ctx); err != nil {
		return report{}, err
	}
	facts, err := b.facts(ctx)
	if err != nil {
		return report{}, err
	}
	ossh := openssh{t: b.t, procs: b.procs}

	// Negotiation: ssh -vv shows the server's lists and what ssh chose.
	pctx, cancel := context.WithTimeout(ctx, setupTimeout)
	pr, err := ossh.probe(pctx)
	cancel()
	if err != nil {
		return report{}, fmt.Errorf("ssh cannot log in to %s: %w", b.t.addr(), err)
	}
	var negotiated [numClients]negotiation
	negotiated[clientOpenSSH] = pr.negotiation

	// The table lists throughput first, though it is measured last: the
	// openssh figures need the connect overhead.
	for _, dir := range []string{"download", "upload"} {
		for _, spec := range benchCiphers() {
			b.rows.get(dir+" "+spec.label(), unitMBps)
		}
	}
	b.connectLatency(ctx, ossh)
	b.channelLatency(ctx)
	b.idleRSS(ctx, ossh)
	overhead := time.Duration(median(b.rows.get(connectRow, unitMs).Samples[clientOpenSSH]) * float64(time.Millisecond))
	negotiated[clientLib], negotiated[clientXCrypto] = b.throughput(ctx, ossh, overhead)
	if ctx.Err() != nil {
		return report{}, ctx.Err()
	}

	var neg []string
	for c := range numClients {
		neg = append(neg, fmt.Sprintf("%s: %v", clientName(c), negotiated[c]))
	}
	rep := report{
		Title: fmt.Sprintf("sshbench: %s per transfer, median of %d run(s)", formatSize(b.cfg.size), b.cfg.runs),
		Facts: facts,
		Rows:  b.rows.rows(),
	}
	rep.Notes = append(rep.Notes,
		"MB/s = 10^6 bytes per second. Ratios are lib divided by the other client: above 1 is faster for MB/s, slower or bigger for ms and MiB.",
		"lib and xcrypto MB/s: from opening the channel to the exit status, on a connection authenticated beforehand.",
		fmt.Sprintf("openssh MB/s: wall time of the ssh process minus %.1f ms, its median connect+auth+exec time.", millis(overhead)),
		"client CPU: user+system CPU seconds the client spent per GiB moved (getrusage): this process for lib and xcrypto, the ssh process for openssh, whose figure includes its own connection setup.",
		"default = each client's own preference. Negotiated key exchange, host key, cipher: "+strings.Join(neg, "; ")+
			"",
		"connect+auth+exec: dial, key exchange, host-key check, ed25519 public-key auth, exec true, exit status, disconnect.",
		"idle session RSS: connected, authenticated, one session channel running an idle command (cat reading the open channel); lib and xcrypto in a child process of this binary (over baseline = minus its VmRSS before connecting).",
		b.pinNote(),
		"load average at the end: "+loadAvg(),
	)
	rep.Notes = append(rep.Notes, b.errs...)
	return rep, nil
}

// setTarget starts the bench's own sshd, or takes -host.
func (b *bench) setTarget(ctx context.Context) error {
	u := b.cfg.user
	if u == "" {
		cur, err := user.Current()
		if err != nil {
			return fmt.Errorf("current user: %w (use -user)", err)
		}
		u = cur.Username
	}
	if b.cfg.host != "" {
		kh := b.cfg.knownHosts
		if kh == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return err
			}
			kh = filepath.Join(home, ".ssh", "known_hosts")
		}
		t, err := newTarget(b.cfg.host, b.cfg.port, u, b.cfg.identity, kh)
		b.t = t
		return err
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		return fmt.Errorf("needs the OpenSSH client: %w", err)
	}
	server, err := startSSHD(ctx, b.procs, b.logf)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.server = server
	b.mu.Unlock()
	if err := b.pinServer(server); err != nil {
		return err
	}
	t, err := newTarget("127.0.0.1", server.port, u, server.identity, server.knownHosts)
	b.t = t
	return err
}

// facts describes the machine and the software under test.
func (b *bench) facts(ctx context.Context) ([]string, error) {
	xcrypto := "?"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "golang.org/x/crypto" {
				xcrypto = d.Version
			}
		}
	}
	sshV, err := exec.CommandContext(ctx, "ssh", "-V").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ssh -V: %w", err)
	}
	banner, err := readBanner(b.t.addr())
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", b.t.addr(), err)
	}
	where := "-host"
	if b.server != nil {
		where = "own sshd"
	}
	return []string{
		fmt.Sprintf("machine: %s/%s, %d CPUs (%s), load average %s at the start",
			runtime.GOOS, runtime.GOARCH, b.cpuCount(), cpuModel(), loadAvg()),
		fmt.Sprintf("Go: %s, golang.org/x/crypto %s", runtime.Version(), xcrypto),
		"OpenSSH client: " + strings.TrimSpace(string(sshV)),
		fmt.Sprintf("server: %s at %s (%s)", banner, b.t.addr(), where),
	}, nil
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// loadAvg is the 1, 5 and 15 minute load average.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// connectLatency takes connectSamples connect+auth+exec samples per client,
// the clients taking turns so that a busy moment of the machine hits all.
func (b *bench) connectLatency(ctx context.Context, ossh openssh) {
	s := b.rows.get(connectRow, unitMs)
	samplers := [numClients]func(context.Context) (time.Duration, error){
		clientLib:     b.t.libConnectLatency,
		clientXCrypto: b.t.xConnectLatency,
		clientOpenSSH: ossh.connectLatency,
	}
	b.logf("connect+auth+exec latency, %d samples per client", connectSamples)
	for i := range connectSamples {
		for _, c := range turnOrder(i) {
			sample := samplers[c]
			if s.Missing[c] != "" || ctx.Err() != nil {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, setupTimeout)
			d, err := sample(sctx)
			cancel()
			if err != nil {
				b.fail(s, c, err)
				continue
			}
			s.add(c, millis(d))
		}
	}
}

// channelLatency takes channelSamples channel open+exec samples for lib and
// xcrypto, each on one connection.
func (b *bench) channelLatency(ctx context.Context) {
	s := b.rows.get(channelRow, unitMs)
	s.Missing[clientOpenSSH] = notApplicable
	cctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	sess, err := b.t.libConnect(cctx, cipherSpec{})
	if err != nil {
		b.fail(s, clientLib, err)
	} else {
		defer sess.Disconnect()
	}
	xc, err := b.t.xDial(cctx, cipherSpec{})
	if err != nil {
		b.fail(s, clientXCrypto, err)
	} else {
		defer xc.Close()
		// x/crypto's Run has no ctx: closing the connection ends a stuck one.
		defer context.AfterFunc(cctx, func() { _ = xc.Close() })()
	}
	b.logf("channel open latency, %d samples per client", channelSamples)
	for range channelSamples {
		if s.Missing[clientLib] == "" {
			if d, err := libChannelLatency(cctx, sess); err != nil {
				b.fail(s, clientLib, err)
			} else {
				s.add(clientLib, millis(d))
			}
		}
		if s.Missing[clientXCrypto] == "" {
			if d, err := xChannelLatency(xc); err != nil {
				b.fail(s, clientXCrypto, err)
			} else {
				s.add(clientXCrypto, millis(d))
			}
		}
	}
}

// idleRSS measures the memory of one idle session per client.
func (b *bench) idleRSS(ctx context.Context, ossh openssh) {
	abs := b.rows.get(rssRow, unitMiB)
	delta := b.rows.get(rssDelta, unitMiB)
	delta.Missing[clientOpenSSH] = notApplicable
	const mib = 1 << 20
	b.logf("idle session RSS, %d samples per client", rssSamples)
	for range rssSamples {
		for _, c := range []int{clientLib, clientXCrypto} {
			if abs.Missing[c] != "" {
				continue
			}
			base, idle, err := b.childRSS(ctx, clientName(c))
			if err != nil {
				b.fail(abs, c, err)
				delta.fail(c)
				continue
			}
			abs.add(c, float64(idle)/mib)
			delta.add(c, float64(idle-base)/mib)
		}
		if abs.Missing[clientOpenSSH] == "" {
			rss, err := ossh.idleRSS(ctx)
			if err != nil {
				b.fail(abs, clientOpenSSH, err)
				continue
			}
			abs.add(clientOpenSSH, float64(rss)/mib)
		}
	}
}

// transferer is one client's way to move -size bytes each way.
type transferer interface {
	download(ctx context.Context, n int64) (time.Duration, error)
	upload(ctx context.Context, n int64) (time.Duration, error)
	Close() error
}

// transferTimeout bounds one transfer: a minute plus 1 MiB/s, so that only
// a stuck transfer trips it.
func (b *bench) transferTimeout() time.Duration {
	return time.Minute + time.Duration(b.cfg.size>>20)*time.Second
}

// throughput runs the download and upload rows, -runs times, the clients
// taking turns on each row in an order that rotates (turnOrder). It returns
// the host key type lib got and what x/crypto negotiated, by default.
func (b *bench) throughput(ctx context.Context, ossh openssh, overhead time.Duration) (lib, x negotiation) {
	n := b.cfg.size
	for run := 1; run <= b.cfg.runs && ctx.Err() == nil; run++ {
		for i, spec := range benchCiphers() {
			down := b.rows.get("download "+spec.label(), unitMBps)
			up := b.rows.get("upload "+spec.label(), unitMBps)
			var clients [numClients]transferer

			cctx, cancel := context.WithTimeout(ctx, setupTimeout)
			if sess, err := b.t.libConnect(cctx, spec); err != nil {
				b.fail(down, clientLib, err)
				up.fail(clientLib)
			} else {
				clients[clientLib] = libTransfer{sess}
				if algs, err := sess.Algorithms(); err == nil && spec.cipher == "" {
					lib = negotiation{kex: algs.KeyExchange, hostKey: algs.HostKey, cipher: algs.CipherSC}
				}
			}
			if xc, err := b.t.xDial(cctx, spec); err != nil {
				b.fail(down, clientXCrypto, err)
				up.fail(clientXCrypto)
			} else {
				clients[clientXCrypto] = xTransfer{xc}
				if spec.cipher == "" {
					x = xNegotiated(xc)
				}
			}
			cancel()
			clients[clientOpenSSH] = openSSHTransfer{openssh: ossh, spec: spec, overhead: overhead}

			for _, dir := range []struct {
				name string
				s    *series
				fn   func(transferer, context.Context, int64) (time.Duration, error)
			}{{"download", down, transferer.download}, {"upload", up, transferer.upload}} {
				for _, c := range turnOrder(run - 1 + i) {
					cl := clients[c]
					if cl == nil || dir.s.Missing[c] != "" || ctx.Err() != nil {
						continue
					}
					tctx, cancel := context.WithTimeout(ctx, b.transferTimeout())
					cpuBefore := clientCPU(c)
					d, err := dir.fn(cl, tctx, n)
					cpu := clientCPU(c) - cpuBefore
					cancel()
					if err != nil {
						b.fail(dir.s, c, err)
						continue
					}
					v := mbPerSec(n, d)
					dir.s.add(c, v)
					// On a small machine the server and the data source share
					// the CPU with the client, so MB/s hides how much a client
					// itself costs; its CPU time per GiB does not.
					b.rows.get("client CPU "+dir.name+" "+spec.label(), unitCPU).add(c, cpu.Seconds()/(float64(n)/(1<<30)))
					b.logf("run %d/%d %-8s %-7s %-45s %7.0f MB/s (%v)", run, b.cfg.runs, dir.name,
						clientName(c), spec.label(), v, d.Round(time.Millisecond))
				}
			}
			for _, cl := range clients {
				if cl != nil {
					_ = cl.Close()
				}
			}
		}
	}
	return lib, x
}

// clientCPU returns the user+system CPU time used so far by a client: this
// process for the Go clients (they run in it), the reaped children for
// OpenSSH's ssh (each transfer's ssh is waited for before it returns).
func clientCPU(client int) time.Duration {
	who := syscall.RUSAGE_SELF
	if client == clientOpenSSH {
		who = syscall.RUSAGE_CHILDREN
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
