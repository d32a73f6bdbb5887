package ssh

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// idleSessions is how many sessions the idle-memory test holds at once:
// enough that per-session figures drown the noise of one GC cycle.
const idleSessions = 32

// idleSessionHeap is the most heap an idle authenticated session may keep
// (issue 13: 10,000 idle sessions at <= 64 KiB each). The read-ahead and
// the stream buffers serve bulk transfer only and must not count.
const idleSessionHeap = 64 << 10

// idleOverRaw is the most an idle session may keep over what a raw
// x/crypto client keeps for the same connection.
const idleOverRaw = 24 << 10

// idleServerEnv makes the test binary serve as the idle-memory test's
// server (TestMain calls idleServerMain): the server's own memory, in
// particular sshtest's send queue, must not be counted as the client's.
const idleServerEnv = "LIBSSH_TEST_IDLE_SERVER"

// bulkBytes is what the server's every exec prints.
const bulkBytes = 1 << 20

// idleServerMain serves "u"/"pw", answering every exec with bulkBytes of
// output, prints "port N" and serves until its stdin closes.
func idleServerMain() int {
	var cfg sshtest.Config
	cfg.AddPasswordUser("u", "pw")
	chunk := make([]byte, 64<<10)
	cfg.Exec = func(ctx sshtest.ExecContext) int {
		if ctx.Command == "idle" { // until the client's EOF or close
			_, _ = io.Copy(io.Discard, ctx.Stdin)
			return 0
		}
		for range bulkBytes / len(chunk) {
			if _, err := ctx.Stdout.Write(chunk); err != nil {
				return 1
			}
		}
		return 0
	}
	srv, err := sshtest.Start(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("port %d\n", srv.Port())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
	return 0
}

// startIdleServer runs idleServerMain in a child process and returns its
// port; the child ends at cleanup.
func startIdleServer(t *testing.T) int {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), idleServerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("idle server: %v", err)
		}
	})
	var port int
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err == nil {
		_, err = fmt.Sscanf(line, "port %d", &port)
	}
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("idle server printed %q: %v", line, err)
	}
	return port
}

// heapAfterGC is the heap in use after the garbage collector ran twice
// (the second cycle also empties sync.Pool's victim cache).
func heapAfterGC() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// idleGoroutines is the most goroutines an idle session may keep
// (issue 13).
const idleGoroutines = 6

// perSession runs open idleSessions times and returns the live heap each
// one added; then it closes them all. It also fails t if a session keeps
// more than maxG goroutines (0: not checked).
func perSession(t *testing.T, maxG int, open func() io.Closer) int64 {
	t.Helper()
	base, baseG := heapAfterGC(), runtime.NumGoroutine()
	var held []io.Closer
	for range idleSessions {
		held = append(held, open())
	}
	got := (heapAfterGC() - base) / idleSessions
	if g := runtime.NumGoroutine() - baseG; maxG > 0 && g > maxG*idleSessions {
		t.Errorf("%d sessions keep %d goroutines; want at most %d each", idleSessions, g, maxG)
	} else {
		t.Logf("%d sessions keep %d goroutines", idleSessions, g)
	}
	for _, c := range held {
		_ = c.Close()
	}
	return got
}

type disconnector struct{ s *Session }

func (d disconnector) Close() error { return d.s.Disconnect() }

func TestIdleSessionRetainedHeap(t *testing.T) {
	port := startIdleServer(t)
	ctx := testCtx(t)
	login := func(stream, hold bool) io.Closer {
		s := NewSession()
		if err := s.SetOption(ProcessConfig(false), Hostname("127.0.0.1"), Port(port), User("u"), SSHDir(t.TempDir())); err != nil {
			t.Fatal(err)
		}
		if err := s.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.AcceptHostKey(); err != nil {
			t.Fatal(err)
		}
		if st, err := s.UserauthPassword(ctx, "", "pw"); st != AuthSuccess || err != nil {
			t.Fatalf("auth: %v, %v", st, err)
		}
		if stream {
			ch, err := s.NewChannel()
			if err != nil {
				t.Fatal(err)
			}
			if err := ch.OpenSession(ctx); err != nil {
				t.Fatal(err)
			}
			if err := ch.RequestExec(ctx, "bulk"); err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, ch.Stdout())
			if err != nil || n != bulkBytes {
				t.Fatalf("read %d bytes, %v; want %d", n, err, bulkBytes)
			}
			if code, err := ch.ExitStatus(ctx); code != 0 || err != nil {
				t.Fatalf("exit status %d, %v", code, err)
			}
			if err := ch.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if hold {
			// A channel left open with a command that prints nothing.
			ch, err := s.NewChannel()
			if err != nil {
				t.Fatal(err)
			}
			if err := ch.OpenSession(ctx); err != nil {
				t.Fatal(err)
			}
			if err := ch.RequestExec(ctx, "idle"); err != nil {
				t.Fatal(err)
			}
		}
		return disconnector{s}
	}
	rawLogin := func(stream bool) io.Closer {
		c, err := gossh.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &gossh.ClientConfig{
			User: "u", Auth: []gossh.AuthMethod{gossh.Password("pw")},
			HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if stream {
			sess, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			sess.Stdout = io.Discard
			if err := sess.Run("bulk"); err != nil {
				t.Fatal(err)
			}
			_ = sess.Close()
		}
		return c
	}
	// x/crypto keeps its own packet buffers at the size of the largest
	// packet seen, so a session that streamed is compared with an x/crypto
	// client that streamed.
	raw := perSession(t, idleGoroutines, func() io.Closer { return rawLogin(false) })
	rawStreamed := perSession(t, idleGoroutines, func() io.Closer { return rawLogin(true) })
	idle := perSession(t, idleGoroutines, func() io.Closer { return login(false, false) })
	streamed := perSession(t, idleGoroutines, func() io.Closer { return login(true, false) })
	holding := perSession(t, 0, func() io.Closer { return login(true, true) })
	t.Logf("live heap per client session: idle: x/crypto %d B, lib %d B; idle after a %d B download: x/crypto %d B, lib %d B; that and an idle channel: lib %d B",
		raw, idle, bulkBytes, rawStreamed, streamed, holding)
	if holding-rawStreamed > idleSessionHeap {
		t.Errorf("an idle channel on a session that streamed keeps %d B more heap than x/crypto's bare client (%d B); want at most %d B more",
			holding-rawStreamed, rawStreamed, idleSessionHeap)
	}
	if idle > idleSessionHeap {
		t.Errorf("an idle session keeps %d B of heap; want at most %d B", idle, idleSessionHeap)
	}
	if idle-raw > idleOverRaw {
		t.Errorf("an idle session keeps %d B more heap than x/crypto's client (%d B); want at most %d B more", idle-raw, raw, idleOverRaw)
	}
	if streamed-rawStreamed > idleOverRaw {
		t.Errorf("a session idle after a download keeps %d B more heap than x/crypto's client (%d B); want at most %d B more",
			streamed-rawStreamed, rawStreamed, idleOverRaw)
	}
}
