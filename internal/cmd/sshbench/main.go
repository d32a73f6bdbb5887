// Command sshbench measures this library against raw golang.org/x/crypto/ssh
// and the OpenSSH ssh client, all talking to the same OpenSSH sshd in one
// run, and prints one table with the ratios.
//
// Usage:
//
//	go run ./internal/cmd/sshbench                 # 1 GiB per transfer, own sshd
//	go run ./internal/cmd/sshbench -quick          # 64 MiB smoke run
//	go run ./internal/cmd/sshbench -runs 3 -out bench.md
//	go run ./internal/cmd/sshbench -host h -port 22 -user u -identity ~/.ssh/id_ed25519
//	go run ./internal/cmd/sshbench -pin            # client on one core, sshd on another
//	go run ./internal/cmd/sshbench -fanout 10000   # many idle sessions (fanout_linux.go)
//	go run ./internal/cmd/sshbench -sftp -size 256MiB -runs 3 -rtt 0,10ms,50ms
//	go run ./internal/cmd/sshbench -sftp -sftp-clients lib-sftp,openssh-sftp -rtt 50ms
//
// Without -host it starts its own sshd (/usr/sbin/sshd -D) on a free port of
// 127.0.0.1, with host keys and a client key made by ssh-keygen in a
// temporary directory, and stops it at the end, on errors and on Ctrl-C. It
// needs Linux, the OpenSSH client and server, and root (sshd's privilege
// separation) for its own sshd. On other systems it says so and exits.
//
// What each number means:
//
//   - download / upload, MB/s (10^6 bytes per second, higher is better):
//     -size bytes through one exec channel, remote "head -c N /dev/zero"
//     (the client counts what it reads and checks the count) and remote
//     "wc -c" (the client writes a pattern; the count wc prints is checked).
//     For lib and xcrypto the clock runs from opening the channel to the
//     exit status, on a connection that is already authenticated. For
//     openssh it is the ssh process's wall time minus the median
//     connect+auth+exec time measured below (process start, handshake,
//     auth, teardown), so all three are transfer time. The correction
//     matters: a quarter of a second against about 1.5 s for 1 GiB at
//     700 MB/s.
//     "default" lets each client negotiate its own preference (the notes say
//     what each got); the other rows pin the cipher (and MAC) on the client.
//   - connect+auth+exec, ms (lower is better): TCP connect, key exchange,
//     host-key check, public-key authentication with an ed25519 key, exec
//     "true", exit status and disconnect; median of 20. For openssh this is
//     the whole "ssh host true" process.
//   - channel open+exec, ms: on an authenticated connection, open a session
//     channel, exec "true", wait for the exit status, close; median of 50.
//     The ssh binary has no equivalent without multiplexing: n/a.
//   - idle session RSS, MiB (lower is better): a process that is connected,
//     authenticated and has one session channel running an idle "cat", one
//     second after the session started; median of 3. lib and xcrypto run
//     in a child process (this binary re-executed) that reads its own
//     VmRSS; "over baseline" subtracts the VmRSS the child had before
//     connecting (the Go runtime and the binary). openssh is the VmRSS of
//     the ssh process.
//
// With -sftp it measures file transfers instead, on its own sshd: get and
// put of one -size file of random bytes by this library's sftp (default
// options, and Channels(1)), github.com/pkg/sftp (defaults, and its
// concurrency options), OpenSSH's "sftp -b" and "scp -O", and this
// library's scp; on loopback and, for each non-zero -rtt, through
// internal/delayproxy adding that round-trip time. Each result file's
// sha256 is checked after the timed part. The table shows the median MB/s
// of -runs transfers and ratios measured in the same run (lib-sftp over
// openssh-sftp and over pkg/sftp, lib-scp over openssh-scp).
//
// The ratio columns are lib divided by the other client, for every unit: for
// MB/s above 1 means the library is faster, for ms and MiB above 1 means it
// is slower or bigger. With -runs N each throughput figure is the median of
// N transfers. The clients take turns on every row, in an order that
// rotates from row to row, so a busy moment of a shared machine does not
// always hit the same client; still, on a small shared machine single runs
// differ by 10-20%: compare ratios across several runs before concluding.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// Defaults of the measurement counts.
const (
	defaultSize      = 1 << 30
	quickSize        = 64 << 20
	connectSamples   = 20
	channelSamples   = 50
	rssSettleTime    = time.Second // idle time before reading an idle session's RSS
	rssChildFlagName = "rss-child" // hidden: run as the RSS child (see rss_linux.go)
)

// config is what the command line asked for.
type config struct {
	size       int64
	runs       int
	host       string
	port       int
	user       string
	identity   string
	knownHosts string
	quick      bool
	out        string
	pin        bool // -pin: client on one core, sshd on another (pin_linux.go)

	sftp        bool            // -sftp: the file-transfer table instead of the ssh rows
	rtts        []time.Duration // -rtt: round-trip times of the file-transfer rows (0: loopback)
	fileClients map[string]bool // -sftp-clients: nil for all

	rssChild string // "lib" or "xcrypto" in the RSS child process

	fanout       int    // -fanout N: the many-sessions bench (fanout_linux.go)
	fanoutChild  string // "lib" or "xcrypto" in a fan-out client child
	fanoutServer bool   // the fan-out server child
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err == flag.ErrHelp {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sshbench:", err)
		os.Exit(2)
	}
	os.Exit(run(cfg))
}

// parseFlags reads the command line. The RSS child's flag is accepted but
// not listed in -help: only the bench passes it, to itself.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("sshbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	size := fs.String("size", "1GiB", "bytes per transfer (64MiB, 1GiB, 100M, ...)")
	fs.IntVar(&cfg.runs, "runs", 1, "transfers per measurement; the table shows their median")
	fs.StringVar(&cfg.host, "host", "", "use this sshd instead of starting one")
	fs.IntVar(&cfg.port, "port", 22, "port of -host")
	fs.StringVar(&cfg.user, "user", "", "user on -host (default: the current user)")
	fs.StringVar(&cfg.identity, "identity", "", "private key (unencrypted) for -host")
	fs.StringVar(&cfg.knownHosts, "known-hosts", "", "known_hosts file with -host's keys (default ~/.ssh/known_hosts)")
	fs.BoolVar(&cfg.quick, "quick", false, "smoke run: 64 MiB per transfer (overrides -size)")
	fs.StringVar(&cfg.out, "out", "", "also write the table as Markdown to this file")
	fs.BoolVar(&cfg.pin, "pin", false, "client on one CPU core, sshd and the data source on another")
	fs.BoolVar(&cfg.sftp, "sftp", false, "measure file transfers (sftp, scp: get and put of one -size file) instead of the ssh rows")
	rtts := fs.String("rtt", "0,10ms,50ms", "with -sftp: round-trip times to add with a delay proxy (0 = loopback)")
	clients := fs.String("sftp-clients", "", "with -sftp: comma-separated columns (lib-sftp,lib-sftp-1ch,pkg-sftp,pkg-sftp-conc,openssh-sftp,openssh-scp,lib-scp; default all)")
	fs.StringVar(&cfg.rssChild, rssChildFlagName, "", "")
	fs.IntVar(&cfg.fanout, "fanout", 0, "instead of the table: N idle sessions in one process, then one exec on each")
	fs.StringVar(&cfg.fanoutChild, "fanout-child", "", "")
	fs.BoolVar(&cfg.fanoutServer, "fanout-server", false, "")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sshbench [flags]\n\nMeasures libssh-go, raw x/crypto/ssh and OpenSSH's ssh on one sshd.")
		fs.VisitAll(func(f *flag.Flag) {
			if f.Usage == "" { // the bench's own child modes
				return
			}
			def := ""
			if f.DefValue != "" && f.DefValue != "false" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(fs.Output(), "  -%-12s %s%s\n", f.Name, f.Usage, def)
		})
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	n, err := parseSize(*size)
	if err != nil {
		return cfg, err
	}
	cfg.size = n
	if cfg.rtts, err = parseRTTs(*rtts); err != nil {
		return cfg, err
	}
	cfg.fileClients = parseClients(*clients)
	if cfg.quick {
		cfg.size = quickSize
	}
	if cfg.runs < 1 {
		return cfg, fmt.Errorf("-runs must be at least 1")
	}
	if cfg.port < 1 || cfg.port > 65535 {
		return cfg, fmt.Errorf("-port must be 1..65535")
	}
	if cfg.fanout < 0 {
		return cfg, fmt.Errorf("-fanout must not be negative")
	}
	if cfg.host != "" && cfg.identity == "" && cfg.rssChild == "" {
		return cfg, fmt.Errorf("-host needs -identity (a private key the server accepts)")
	}
	if cfg.rssChild != "" && cfg.rssChild != "lib" && cfg.rssChild != "xcrypto" {
		return cfg, fmt.Errorf("-%s must be lib or xcrypto", rssChildFlagName)
	}
	return cfg, nil
}
