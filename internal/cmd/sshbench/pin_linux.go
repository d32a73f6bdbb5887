package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Pinned mode (-pin): the client (this process, and the ssh and child
// processes it starts, which inherit its CPU mask) runs on one core, sshd
// and everything it forks (the remote head and wc that produce and consume
// the data) on another, so that MB/s measures the client rather than the
// client's share of a CPU it splits with the server.
//
// A Go process has many threads and sched_setaffinity(0, ...) sets only the
// calling one, so the bench pins the thread it runs on and re-executes
// itself from that thread: a new program inherits the mask of the thread
// that called execve, and every thread it creates inherits it in turn.
const (
	pinCoreEnv = "SSHBENCH_PIN_CORE" // the core this process must run on
	pinDoneEnv = "SSHBENCH_PINNED"   // set once the re-exec has happened
)

// pinning is the pair of cores of -pin.
type pinning struct {
	client, server int
	cpus           int // CPUs this process was allowed at the start
}

// choosePinning picks the first two CPUs of this process's mask.
func choosePinning() (pinning, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return pinning{}, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var cores []int
	for i := range runtime.NumCPU() * 8 {
		if set.IsSet(i) {
			cores = append(cores, i)
		}
	}
	if len(cores) < 2 {
		return pinning{}, fmt.Errorf("-pin needs 2 CPUs, this process may use %d", len(cores))
	}
	return pinning{client: cores[0], server: cores[1], cpus: len(cores)}, nil
}

// pinEnv names the variables a pinned run passes to its re-executed self.
const pinServerEnv = "SSHBENCH_PIN_SERVER" // the server's core, for the notes and children

// pinnedRun is what -pin does at the start of run: in the first process it
// chooses the cores and re-executes itself pinned (it returns only on
// error); in the re-executed process it returns the pinning.
func pinnedRun() (pinning, error) {
	if os.Getenv(pinDoneEnv) == "" {
		p, err := choosePinning()
		if err != nil {
			return p, err
		}
		return p, pinSelf(p.client, pinServerEnv+"="+strconv.Itoa(p.server), "SSHBENCH_PIN_CPUS="+strconv.Itoa(p.cpus))
	}
	var p pinning
	var err error
	if p.client, err = strconv.Atoi(os.Getenv(pinCoreEnv)); err == nil {
		if p.server, err = strconv.Atoi(os.Getenv(pinServerEnv)); err == nil {
			p.cpus, err = strconv.Atoi(os.Getenv("SSHBENCH_PIN_CPUS"))
		}
	}
	if err != nil {
		return p, fmt.Errorf("pinned re-exec: bad environment: %w", err)
	}
	return p, nil
}

// pinSelf makes this process run on core only: it pins the current thread
// and re-executes the binary with the same arguments and env added to its
// environment. It returns only with an error.
func pinSelf(core int, env ...string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	runtime.LockOSThread() // execve must come from the pinned thread
	var set unix.CPUSet
	set.Set(core)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("sched_setaffinity core %d: %w", core, err)
	}
	env = append(cleanPinEnv(), append(env, pinDoneEnv+"=1", pinCoreEnv+"="+strconv.Itoa(core))...)
	err = syscall.Exec(exe, os.Args, env)
	runtime.UnlockOSThread()
	return fmt.Errorf("re-executing %s pinned: %w", exe, err)
}

// cleanPinEnv is this process's environment without the pinning variables.
func cleanPinEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSHBENCH_PIN") {
			env = append(env, kv)
		}
	}
	return env
}

// pinProcess moves a single-threaded child (sshd before it serves anything)
// to core; the processes it forks later inherit the mask.
func pinProcess(pid, core int) error {
	var set unix.CPUSet
	set.Set(core)
	if err := unix.SchedSetaffinity(pid, &set); err != nil {
		return fmt.Errorf("sched_setaffinity pid %d core %d: %w", pid, core, err)
	}
	return nil
}

// pinChildEnv is the environment for a Go child (this binary re-executed)
// that must run on core: it pins itself at start (pinChild).
func pinChildEnv(core int) []string {
	return append(cleanPinEnv(), "SSHBENCH_PIN_CHILD="+strconv.Itoa(core))
}

// pinChild pins a child to the core its parent asked for with pinChildEnv.
// It returns only when nothing was asked or with an error.
func pinChild() error {
	v := os.Getenv("SSHBENCH_PIN_CHILD")
	if v == "" {
		return nil
	}
	core, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("SSHBENCH_PIN_CHILD=%q: %w", v, err)
	}
	return pinSelf(core)
}

// currentMask is the list of CPUs this process may run on, for the notes.
func currentMask() string {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return "?"
	}
	s := ""
	for i := range 1024 {
		if set.IsSet(i) {
			if s != "" {
				s += ","
			}
			s += strconv.Itoa(i)
		}
	}
	return s
}

// pinNote is the notes line that says how the run was placed on the CPUs.
func (b *bench) pinNote() string {
	if b.pin == nil {
		return fmt.Sprintf("unpinned: %d CPUs (mask %s), client, sshd and the data source share them.", runtime.NumCPU(), currentMask())
	}
	where := "sshd (and the remote head/wc it forks)"
	if b.server == nil {
		where = "-host: the remote sshd is not pinned by the bench; fan-out server"
	}
	return fmt.Sprintf("pinned (-pin): %d CPUs; client (this process, its ssh and child processes) on CPU %d (mask now %s); %s on CPU %d.",
		b.pin.cpus, b.pin.client, currentMask(), where, b.pin.server)
}

// pinServer moves the bench's own sshd to the server core.
func (b *bench) pinServer(s *sshd) error {
	if b.pin == nil || s == nil {
		return nil
	}
	return pinProcess(s.cmd.Process.Pid, b.pin.server)
}

// cpuCount is the machine's CPUs as the run found them: with -pin, before
// the process pinned itself to one.
func (b *bench) cpuCount() int {
	if b.pin != nil {
		return b.pin.cpus
	}
	return runtime.NumCPU()
}
