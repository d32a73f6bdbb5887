package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/libssh-go/libssh/internal/delayproxy"
	"github.com/libssh-go/libssh/scp"
	"github.com/libssh-go/libssh/sftp"
	"github.com/libssh-go/libssh/ssh"
	pkgsftp "github.com/pkg/sftp"
)

// fileClient is one column of the file-transfer table: a way to get and
// put one file of the target. Each call connects (untimed), transfers
// (timed) and disconnects; it returns the transfer time.
type fileClient struct {
	name string
	get  func(ctx context.Context, t *target, remote, local string) (time.Duration, error)
	put  func(ctx context.Context, t *target, local, remote string) (time.Duration, error)
}

// fileClients are the columns, in order; -sftp-clients selects among them.
func (b *bench) fileClients() []fileClient {
	ossh := openssh{procs: b.procs}
	return []fileClient{
		{"lib-sftp", libSFTP(), libSFTPPut()},
		{"lib-sftp-1ch", libSFTP(sftp.Channels(1)), libSFTPPut(sftp.Channels(1))},
		{"pkg-sftp", pkgSFTPGet(), pkgSFTPPut()},
		{"pkg-sftp-conc", pkgSFTPGet(pkgConcurrent()...), pkgSFTPPut(pkgConcurrent()...)},
		{"openssh-sftp", ossh.sftpGet(b), ossh.sftpPut(b)},
		{"openssh-scp", ossh.scpGet(b), ossh.scpPut(b)},
		{"lib-scp", libSCPGet, libSCPPut},
	}
}

// pkgConcurrent is pkg/sftp with its concurrency options turned up: reads
// and writes in parallel, 128 requests in flight per file, and requests as
// large as OpenSSH's sftp-server takes (its limit is 256 KiB per message).
func pkgConcurrent() []pkgsftp.ClientOption {
	return []pkgsftp.ClientOption{
		pkgsftp.UseConcurrentReads(true), pkgsftp.UseConcurrentWrites(true),
		pkgsftp.MaxConcurrentRequestsPerFile(128), pkgsftp.MaxPacketUnchecked(255 << 10),
	}
}

// measureFiles runs the file-transfer table (-sftp): for each RTT, get
// and put of one -size file by every selected client, -runs times, the
// clients taking turns in a rotating order. Each result file's sha256 is
// checked against the source's, outside the timed part.
func (b *bench) measureFiles(ctx context.Context) (fileReport, error) {
	rep := fileReport{}
	if b.server == nil {
		return rep, errors.New("-sftp needs the bench's own sshd (not -host): it checks the files it moved on this machine")
	}
	var clients []fileClient
	for _, c := range b.fileClients() {
		if b.cfg.fileClients == nil || b.cfg.fileClients[c.name] {
			clients = append(clients, c)
		}
	}
	for name := range b.cfg.fileClients {
		if !hasClient(clients, name) {
			return rep, fmt.Errorf("-sftp-clients: unknown client %q", name)
		}
	}
	for _, c := range clients {
		rep.Clients = append(rep.Clients, c.name)
	}
	dir, err := os.MkdirTemp("", "sshbench-files-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "source.bin")
	b.logf("writing a %s source file", formatSize(b.cfg.size))
	want, err := writeRandomFile(src, b.cfg.size)
	if err != nil {
		return rep, err
	}
	rows := seriesByName{}
	for _, rtt := range b.cfg.rtts {
		t := b.t
		var proxy *delayproxy.Proxy
		if rtt > 0 {
			proxy, err = delayproxy.Start(b.t.addr(), rtt)
			if err != nil {
				return rep, err
			}
			t, err = proxiedTarget(b.t, proxy, dir)
			if err != nil {
				proxy.Close()
				return rep, err
			}
		}
		overhead := b.opensshOverhead(ctx, t)
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s: OpenSSH's connect+auth+exit overhead %.0f ms (shortest of 5 \"ssh host true\"), subtracted from its wall times", rttLabel(rtt), millis(overhead)))
		t.overhead = overhead
		for run := 1; run <= b.cfg.runs && ctx.Err() == nil; run++ {
			for _, dirName := range []string{"get", "put"} {
				row := rows.get(&rep, dirName+" "+rttLabel(rtt))
				for _, i := range rotate(len(clients), run-1) {
					c := clients[i]
					if row.failed[c.name] != "" || ctx.Err() != nil {
						continue
					}
					out := filepath.Join(dir, "out-"+c.name+".bin")
					tctx, cancel := context.WithTimeout(ctx, b.transferTimeout()+time.Duration(b.cfg.size>>20)*time.Second)
					var d time.Duration
					if dirName == "get" {
						d, err = c.get(tctx, t, src, out)
					} else {
						d, err = c.put(tctx, t, src, out)
					}
					cancel()
					if err == nil {
						err = checkSum(out, want, b.cfg.size)
					}
					_ = os.Remove(out)
					if err != nil {
						row.failed[c.name] = failed
						msg := fmt.Sprintf("%s, %s: %v", row.name, c.name, err)
						b.errs = append(b.errs, msg)
						b.logf("error: %s", msg)
						continue
					}
					v := mbPerSec(b.cfg.size, d)
					row.samples[c.name] = append(row.samples[c.name], v)
					b.logf("run %d/%d %-10s %-14s %7.1f MB/s (%v)", run, b.cfg.runs, row.name, c.name, v, d.Round(time.Millisecond))
				}
			}
		}
		if proxy != nil {
			proxy.Close()
		}
	}
	return rep, ctx.Err()
}

func hasClient(cs []fileClient, name string) bool {
	for _, c := range cs {
		if c.name == name {
			return true
		}
	}
	return false
}

// rotate is 0..n-1 rotated by k.
func rotate(n, k int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = (i + k) % n
	}
	return o
}

func rttLabel(rtt time.Duration) string {
	if rtt == 0 {
		return "loopback"
	}
	return "RTT " + rtt.String()
}

// writeRandomFile writes n pseudo-random bytes (incompressible, fast to
// make) and returns their sha256.
func writeRandomFile(path string, n int64) ([sha256.Size]byte, error) {
	f, err := os.Create(path)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	h := sha256.New()
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	buf := make([]byte, 1<<20)
	for left := n; left > 0; {
		p := buf[:min(int64(len(buf)), left)]
		_, _ = r.Read(p)
		if _, err := f.Write(p); err != nil {
			f.Close()
			return [sha256.Size]byte{}, err
		}
		h.Write(p)
		left -= int64(len(p))
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum, f.Close()
}

// checkSum compares a result file with the source's size and sha256.
func checkSum(path string, want [sha256.Size]byte, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != size || string(h.Sum(nil)) != string(want[:]) {
		return fmt.Errorf("result file has %d bytes and a different sha256 than the %d-byte source", n, size)
	}
	return nil
}

// proxiedTarget is t reached through proxy, with a known_hosts file that
// names the server's keys under the proxy's port.
func proxiedTarget(t *target, proxy *delayproxy.Proxy, dir string) (*target, error) {
	_, portStr, _ := strings.Cut(proxy.Addr(), ":")
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(t.knownHosts)
	if err != nil {
		return nil, err
	}
	var kh strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 {
			fmt.Fprintf(&kh, "[127.0.0.1]:%d %s %s\n", port, f[1], f[2])
		}
	}
	path := filepath.Join(dir, "known_hosts."+portStr)
	if err := os.WriteFile(path, []byte(kh.String()), 0o600); err != nil {
		return nil, err
	}
	return newTarget("127.0.0.1", port, t.user, t.identity, path)
}

// opensshOverhead is the shortest wall time of five "ssh host true": the
// fixed cost of an OpenSSH process at this RTT. The minimum, not the
// median, because a busy moment of a shared machine only ever adds time,
// and an overhead inflated by one would be subtracted from every transfer.
func (b *bench) opensshOverhead(ctx context.Context, t *target) time.Duration {
	o := openssh{t: t, procs: b.procs}
	var ms []float64
	for range 5 {
		sctx, cancel := context.WithTimeout(ctx, setupTimeout)
		d, err := o.connectLatency(sctx)
		cancel()
		if err == nil {
			ms = append(ms, millis(d))
		}
	}
	if len(ms) == 0 {
		return 0
	}
	return time.Duration(slices.Min(ms) * float64(time.Millisecond))
}

// libSFTP gets with this library's sftp package.
func libSFTP(opts ...sftp.TransferOption) func(context.Context, *target, string, string) (time.Duration, error) {
	return func(ctx context.Context, t *target, remote, local string) (time.Duration, error) {
		return withLibSFTP(ctx, t, func(c *sftp.Client) error { return c.Get(ctx, remote, local, opts...) })
	}
}

func libSFTPPut(opts ...sftp.TransferOption) func(context.Context, *target, string, string) (time.Duration, error) {
	return func(ctx context.Context, t *target, local, remote string) (time.Duration, error) {
		return withLibSFTP(ctx, t, func(c *sftp.Client) error { return c.Put(ctx, local, remote, opts...) })
	}
}

// withLibSFTP connects, starts the sftp client (untimed) and times fn.
func withLibSFTP(ctx context.Context, t *target, fn func(*sftp.Client) error) (time.Duration, error) {
	sess, err := t.libConnect(ctx, cipherSpec{})
	if err != nil {
		return 0, err
	}
	defer sess.Disconnect()
	c, err := sftp.New(ctx, sess)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	start := time.Now()
	err = fn(c)
	return time.Since(start), err
}

// libSCPGet and libSCPPut use this library's scp package.
func libSCPGet(ctx context.Context, t *target, remote, local string) (time.Duration, error) {
	return withLib(ctx, t, func(s *ssh.Session) error { return scp.Get(ctx, s, remote, local) })
}

func libSCPPut(ctx context.Context, t *target, local, remote string) (time.Duration, error) {
	return withLib(ctx, t, func(s *ssh.Session) error { return scp.Put(ctx, s, local, remote) })
}

func withLib(ctx context.Context, t *target, fn func(*ssh.Session) error) (time.Duration, error) {
	sess, err := t.libConnect(ctx, cipherSpec{})
	if err != nil {
		return 0, err
	}
	defer sess.Disconnect()
	start := time.Now()
	err = fn(sess)
	return time.Since(start), err
}

// pkgSFTPGet and pkgSFTPPut use github.com/pkg/sftp on raw x/crypto, the
// way its README shows: Open + WriteTo, Create + ReadFrom.
func pkgSFTPGet(opts ...pkgsftp.ClientOption) func(context.Context, *target, string, string) (time.Duration, error) {
	return func(ctx context.Context, t *target, remote, local string) (time.Duration, error) {
		return withPkgSFTP(ctx, t, opts, func(c *pkgsftp.Client) error {
			in, err := c.Open(remote)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.Create(local)
			if err != nil {
				return err
			}
			if _, err := in.WriteTo(out); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		})
	}
}

func pkgSFTPPut(opts ...pkgsftp.ClientOption) func(context.Context, *target, string, string) (time.Duration, error) {
	return func(ctx context.Context, t *target, local, remote string) (time.Duration, error) {
		return withPkgSFTP(ctx, t, opts, func(c *pkgsftp.Client) error {
			in, err := os.Open(local)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := c.Create(remote)
			if err != nil {
				return err
			}
			if _, err := out.ReadFrom(in); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		})
	}
}

// withPkgSFTP dials with x/crypto, starts pkg/sftp (untimed) and times fn.
// pkg/sftp has no ctx: ctx's end closes the connection.
func withPkgSFTP(ctx context.Context, t *target, opts []pkgsftp.ClientOption, fn func(*pkgsftp.Client) error) (time.Duration, error) {
	xc, err := t.xDial(ctx, cipherSpec{})
	if err != nil {
		return 0, err
	}
	defer xc.Close()
	defer context.AfterFunc(ctx, func() { _ = xc.Close() })()
	c, err := pkgsftp.NewClient(xc, opts...)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	start := time.Now()
	err = fn(c)
	d := time.Since(start)
	if ctx.Err() != nil {
		return d, ctx.Err()
	}
	return d, err
}

// fileArgs are the options sftp and scp share with the bench's ssh runs.
func (o openssh) fileArgs(t *target) []string {
	return []string{"-F", "/dev/null", "-i", t.identity, "-P", strconv.Itoa(t.port),
		"-o", "UserKnownHostsFile=" + t.knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
		"-o", "UpdateHostKeys=no", "-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "LogLevel=ERROR"}
}

// runTimed runs an OpenSSH file tool and returns its wall time minus the
// connection overhead of the target.
func (o openssh) runTimed(ctx context.Context, t *target, name string, args ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr, cmd.Stdout = &stderr, &stderr
	start := time.Now()
	if err := o.procs.start(cmd, syscall.SIGKILL); err != nil {
		return 0, err
	}
	if err := o.procs.wait(cmd); err != nil {
		return 0, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	d := time.Since(start) - t.overhead
	if d <= 0 {
		return 0, fmt.Errorf("%s took less than its connection overhead %v: use a larger -size", name, t.overhead)
	}
	return d, nil
}

// sftpGet and sftpPut run "sftp -b" with one get or put command, with
// sftp's defaults (32 KiB requests, 64 in flight).
func (o openssh) sftpGet(b *bench) func(context.Context, *target, string, string) (time.Duration, error) {
	return func(ctx context.Context, t *target, remote, local string) (time.Duration, error) {
		return o.sftpBatch(ctx, t, fmt.Sprintf("get %q %q\n", remote, local))
	}
}

func (o openssh) sftpPut(b *bench) func(context.Context, *target, string, string) (time.Duration, error) {
	return func(ctx context.Context, t *target, local, remote string) (time.Duration, error) {
		return o.sftpBatch(ctx, t, fmt.Sprintf("put %q %q\n", local, remote))
	}
}

func (o openssh) sftpBatch(ctx context.Context, t *target, batch string) (time.Duration, error) {
	f, err := os.CreateTemp("", "sshbench-batch-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(batch); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	args := append(o.fileArgs(t), "-q", "-b", f.Name(), t.user+"@"+t.host)
	return o.runTimed(ctx, t, "sftp", args...)
}

// scpGet and scpPut run OpenSSH's scp with the legacy protocol (-O), the
// one package scp speaks (without -O, OpenSSH 9 scp uses sftp).
func (o openssh) scpGet(b *bench) func(context.Context, *target, string, string) (time.Duration, error) {
	return func(ctx context.Context, t *target, remote, local string) (time.Duration, error) {
		args := append(o.fileArgs(t), "-O", "-q", t.user+"@"+t.host+":"+remote, local)
		return o.runTimed(ctx, t, "scp", args...)
	}
}

func (o openssh) scpPut(b *bench) func(context.Context, *target, string, string) (time.Duration, error) {
	return func(ctx context.Context, t *target, local, remote string) (time.Duration, error) {
		args := append(o.fileArgs(t), "-O", "-q", local, t.user+"@"+t.host+":"+remote)
		return o.runTimed(ctx, t, "scp", args...)
	}
}
