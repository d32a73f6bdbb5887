package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// procTracker knows every child process the bench started and has not
// reaped yet, so that Ctrl-C can kill them all before the bench exits.
type procTracker struct {
	mu   sync.Mutex
	live map[*os.Process]struct{}
	dead bool // killAll ran: start refuses
}

func newProcTracker() *procTracker {
	return &procTracker{live: make(map[*os.Process]struct{})}
}

// start starts cmd in its own process group (so a terminal's Ctrl-C reaches
// only the bench, which then stops its children in order) and with a signal
// that the kernel sends it if the bench dies first.
func (p *procTracker) start(cmd *exec.Cmd, deathSignal syscall.Signal) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: deathSignal}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return fmt.Errorf("interrupted")
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	p.live[cmd.Process] = struct{}{}
	return nil
}

// wait reaps cmd and forgets it.
func (p *procTracker) wait(cmd *exec.Cmd) error {
	err := cmd.Wait()
	p.mu.Lock()
	delete(p.live, cmd.Process)
	p.mu.Unlock()
	return err
}

// killAll kills every live child and makes later starts fail. The caller
// reaps them (or exits, which hands them to init).
func (p *procTracker) killAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dead = true
	for proc := range p.live {
		_ = proc.Kill()
	}
}

// vmRSS reads VmRSS, in bytes, from a /proc/<pid>/status file.
func vmRSS(statusPath string) (int64, error) {
	f, err := os.Open(statusPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: bad VmRSS line %q", statusPath, sc.Text())
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no VmRSS line", statusPath)
}
