package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// rssChild is the child process of the RSS measurement (-rss-child): it
// reads its VmRSS, connects with one client, runs one idle session, waits
// rssSettleTime, reads VmRSS again and prints "rss BASELINE IDLE" in bytes.
// It is this same binary, so lib and xcrypto children differ only in the
// code they run.
func rssChild(cfg config) int {
	base, err := vmRSS("/proc/self/status")
	if err == nil {
		err = idleSession(cfg, func() error {
			idle, err := vmRSS("/proc/self/status")
			if err == nil {
				fmt.Printf("rss %d %d\n", base, idle)
			}
			return err
		})
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sshbench %s child: %v\n", cfg.rssChild, err)
		return 1
	}
	return 0
}

// idleSession connects with the client cfg.rssChild names, starts the idle
// command, waits for its ready line and rssSettleTime, calls measure, and
// tears everything down.
func idleSession(cfg config, measure func() error) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t, err := newTarget(cfg.host, cfg.port, cfg.user, cfg.identity, cfg.knownHosts)
	if err != nil {
		return err
	}
	if cfg.rssChild == "lib" {
		sess, err := t.libConnect(ctx, cipherSpec{})
		if err != nil {
			return err
		}
		defer sess.Disconnect()
		ch, done, err := libExec(ctx, sess, idleCommand)
		if err != nil {
			return err
		}
		defer done()
		if err := readUntilLine(ch.Stdout(), readyLine, time.Minute); err != nil {
			return err
		}
		time.Sleep(rssSettleTime)
		return measure()
	}
	c, err := t.xDial(ctx, cipherSpec{})
	if err != nil {
		return err
	}
	defer c.Close()
	return xIdle(c, measure)
}

func xIdle(c *gossh.Client, measure func() error) error {
	s, err := c.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	stdout, err := s.StdoutPipe()
	if err != nil {
		return err
	}
	// Without a stdin of its own, x/crypto sends EOF at once.
	stdin, err := s.StdinPipe()
	if err != nil {
		return err
	}
	defer stdin.Close()
	if err := s.Start(idleCommand); err != nil {
		return err
	}
	if err := readUntilLine(stdout, readyLine, time.Minute); err != nil {
		return err
	}
	time.Sleep(rssSettleTime)
	return measure()
}

// childRSS re-executes this binary as the RSS child for client ("lib" or
// "xcrypto") and returns its baseline and idle-session VmRSS in bytes.
func (b *bench) childRSS(ctx context.Context, client string) (base, idle int64, err error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	t := b.t
	cmd := exec.CommandContext(ctx, exe, "-"+rssChildFlagName+"="+client, "-host", t.host,
		"-port", strconv.Itoa(t.port), "-user", t.user, "-identity", t.identity, "-known-hosts", t.knownHosts)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := b.procs.start(cmd, syscall.SIGKILL); err != nil {
		return 0, 0, err
	}
	if err := b.procs.wait(cmd); err != nil {
		return 0, 0, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if _, err := fmt.Sscanf(stdout.String(), "rss %d %d", &base, &idle); err != nil {
		return 0, 0, fmt.Errorf("child printed %q: %w", stdout.String(), err)
	}
	return base, idle, nil
}
