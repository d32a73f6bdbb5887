package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// openssh runs the OpenSSH ssh binary against the target.
type openssh struct {
	t     *target
	procs *procTracker
}

// args is the ssh command line: no config file, only the bench's key and
// known_hosts, no prompts, no multiplexing, no pty.
func (o openssh) args(spec cipherSpec, verbose bool, command string) []string {
	a := []string{"-F", "/dev/null", "-T", "-i", o.t.identity, "-p", strconv.Itoa(o.t.port),
		"-o", "UserKnownHostsFile=" + o.t.knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
		"-o", "UpdateHostKeys=no", "-o", "ControlMaster=no", "-o", "ControlPath=none"}
	if verbose {
		a = append(a, "-vv")
	} else {
		a = append(a, "-o", "LogLevel=ERROR")
	}
	if spec.cipher != "" {
		a = append(a, "-o", "Ciphers="+spec.cipher)
	}
	if spec.mac != "" {
		a = append(a, "-o", "MACs="+spec.mac)
	}
	return append(a, "-l", o.t.user, o.t.host, command)
}

// command returns an ssh process for command, killed if ctx ends.
func (o openssh) command(ctx context.Context, spec cipherSpec, verbose bool, command string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ssh", o.args(spec, verbose, command)...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run starts cmd, calls during (if any) while it runs, and reaps it. The
// error names ssh's stderr.
func (o openssh) run(cmd *exec.Cmd, during func() error) error {
	var stderr bytes.Buffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	if err := o.procs.start(cmd, syscall.SIGKILL); err != nil {
		return err
	}
	var derr error
	if during != nil {
		derr = during()
		if derr != nil {
			_ = cmd.Process.Kill()
		}
	}
	err := o.procs.wait(cmd)
	if derr != nil {
		return derr
	}
	if err != nil {
		return fmt.Errorf("ssh: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// openSSHTransfer runs one ssh process per transfer. Its times are the
// process's wall time minus overhead, the median time of "ssh host true"
// (process start, connect, auth, exec, exit).
type openSSHTransfer struct {
	openssh
	spec     cipherSpec
	overhead time.Duration
}

// transferTime subtracts the connection overhead from a wall time.
func (o openSSHTransfer) transferTime(wall time.Duration) (time.Duration, error) {
	d := wall - o.overhead
	if d <= 0 {
		return 0, fmt.Errorf("transfer took %v, less than the %v connection overhead: use a larger -size", wall, o.overhead)
	}
	return d, nil
}

// download reads ssh's stdout pipe with 256 KiB reads and counts.
func (o openSSHTransfer) download(ctx context.Context, n int64) (time.Duration, error) {
	start := time.Now()
	cmd := o.command(ctx, o.spec, false, downloadCommand(n))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var w countingWriter
	err = o.run(cmd, func() error {
		// Hide the pipe's WriteTo, which would read in 32 KiB pieces.
		_, err := io.CopyBuffer(&w, struct{ io.Reader }{stdout}, make([]byte, 256<<10))
		return err
	})
	if err != nil {
		return 0, err
	}
	d, err := o.transferTime(time.Since(start))
	if err != nil {
		return 0, err
	}
	return d, checkCount("download", w.n, n)
}

// upload writes the pattern into ssh's stdin pipe and closes it.
func (o openSSHTransfer) upload(ctx context.Context, n int64) (time.Duration, error) {
	start := time.Now()
	cmd := o.command(ctx, o.spec, false, uploadCommand)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	err = o.run(cmd, func() error {
		_, err := io.Copy(stdin, newPattern(n))
		if cerr := stdin.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	d, err := o.transferTime(time.Since(start))
	if err != nil {
		return 0, err
	}
	return d, checkUpload(out.Bytes(), n)
}

func (o openSSHTransfer) Close() error { return nil }

// connectLatency is one "ssh host true", process start to exit.
func (o openssh) connectLatency(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	err := o.run(o.command(ctx, cipherSpec{}, false, "true"), nil)
	return time.Since(start), err
}

// probe is what "ssh -vv host true" says about the negotiation.
type probe struct {
	serverKex, serverCiphers []string // the server's KEXINIT lists
	negotiation                       // what ssh negotiated
}

// probe runs ssh -vv once and reads its debug output.
func (o openssh) probe(ctx context.Context) (probe, error) {
	cmd := o.command(ctx, cipherSpec{}, true, "true")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := o.run(cmd, nil); err != nil {
		return probe{}, fmt.Errorf("%w: %s", err, lastLines(stderr.String(), 5))
	}
	return parseProbe(stderr.String()), nil
}

// parseProbe reads OpenSSH's -vv lines: the server's proposal follows
// "peer server KEXINIT proposal"; "kex: algorithm:", "kex: host key
// algorithm:" and "kex: server->client cipher:" name the outcome.
func parseProbe(log string) probe {
	var p probe
	peer := false
	for _, line := range strings.Split(log, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(line, "debug1: "), "debug2: "))
		switch {
		case strings.Contains(line, "peer server KEXINIT proposal"):
			peer = true
		case strings.Contains(line, "local client KEXINIT proposal"):
			peer = false
		case peer && strings.HasPrefix(line, "KEX algorithms: "):
			p.serverKex = strings.Split(strings.TrimPrefix(line, "KEX algorithms: "), ",")
		case peer && strings.HasPrefix(line, "ciphers ctos: "):
			p.serverCiphers = strings.Split(strings.TrimPrefix(line, "ciphers ctos: "), ",")
		case strings.HasPrefix(line, "kex: algorithm: "):
			p.kex = strings.TrimPrefix(line, "kex: algorithm: ")
		case strings.HasPrefix(line, "kex: host key algorithm: "):
			p.hostKey = strings.TrimPrefix(line, "kex: host key algorithm: ")
		case strings.HasPrefix(line, "kex: server->client cipher: "):
			if f := strings.Fields(strings.TrimPrefix(line, "kex: server->client cipher: ")); len(f) > 0 {
				p.cipher = f[0]
			}
		}
	}
	return p
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// idleRSS runs ssh with idleCommand, waits for the session to run, lets it idle
// for rssSettleTime and reads the ssh process's VmRSS.
func (o openssh) idleRSS(ctx context.Context) (int64, error) {
	cmd := o.command(ctx, cipherSpec{}, false, idleCommand)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	// Kept open: ssh would send EOF at the end of a /dev/null stdin.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	defer stdin.Close()
	var rss int64
	err = o.run(cmd, func() error {
		if err := readUntilLine(stdout, readyLine, time.Minute); err != nil {
			return err
		}
		time.Sleep(rssSettleTime)
		var err error
		rss, err = vmRSS("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
		if err != nil {
			return err
		}
		return errDone
	})
	if err != errDone {
		return 0, err
	}
	return rss, nil
}

// errDone ends a run early on purpose: the process is killed, and that is
// not a failure.
var errDone = errors.New("done")
