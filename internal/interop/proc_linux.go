package interop

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// killTree kills p and all its descendants. sshd puts each connection in a new session
// (setsid), so a process group kill would miss them; the tree is found through /proc instead.
// Every process is stopped before any is killed: a killed parent's children would be
// re-parented to init and drop out of the tree, and a stopped process cannot fork.
func killTree(p *os.Process) {
	_ = syscall.Kill(p.Pid, syscall.SIGSTOP)
	stopped := map[int]bool{}
	// Each round stops the children found so far; once a round finds nothing new the
	// tree is complete. The bound only guards against a pathological fork storm.
	for range 100 {
		found := false
		for _, pid := range descendants(p.Pid) {
			if !stopped[pid] {
				_ = syscall.Kill(pid, syscall.SIGSTOP)
				stopped[pid] = true
				found = true
			}
		}
		if !found {
			break
		}
	}
	for pid := range stopped {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = p.Kill()
}

// descendants returns the pids of all processes below root, read from /proc/*/stat.
func descendants(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + ent.Name() + "/stat")
		if err != nil {
			continue // the process has gone
		}
		// The command name in parentheses may contain spaces and ')': the fields after
		// the last ')' are state and ppid (proc(5)).
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 {
			continue
		}
		ppid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}
