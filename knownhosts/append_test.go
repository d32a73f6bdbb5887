package knownhosts

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// khAppenderEnv makes the test binary an appender process for
// TestKnownHostsMultiProcessAppend: "path,writer,lines,keyfile".
const khAppenderEnv = "LIBSSH_TEST_KNOWNHOSTS_APPENDER"

// khAppendLine returns a distinct, valid known_hosts line for writer w, line i.
func khAppendLine(key ssh.PublicKey, w, i int) string {
	return khLine(fmt.Sprintf("host-%d-%d.example", w, i), key)
}

// khCheckAppended checks that kh holds the prefix, then exactly the lines
// writers*perWriter lines khAppendLine makes, each once and whole.
func khCheckAppended(t *testing.T, kh, prefix string, key ssh.PublicKey, writers, perWriter int) {
	t.Helper()
	data, err := os.ReadFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(string(data), prefix+"\n")
	if !ok {
		t.Fatalf("file does not start with %q and one newline: %q", prefix, data[:min(len(data), 200)])
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(rest))
	for sc.Scan() {
		line := sc.Text()
		if _, err := ParseLine(line); err != nil {
			t.Fatalf("damaged line %q: %v", line, err)
		}
		if seen[line] {
			t.Fatalf("line written twice: %q", line)
		}
		seen[line] = true
	}
	for w := range writers {
		for i := range perWriter {
			if !seen[khAppendLine(key, w, i)] {
				t.Fatalf("line %d of writer %d lost", i, w)
			}
		}
	}
	if len(seen) != writers*perWriter || !strings.HasSuffix(rest, "\n") {
		t.Fatalf("%d lines, want %d", len(seen), writers*perWriter)
	}
	t.Logf("%d writers x %d lines: all %d lines whole, once each", writers, perWriter, len(seen))
}

func TestKnownHostsConcurrentAppend(t *testing.T) {
	key := khSigner(t, ssh.KeyAlgoRSA).PublicKey() // long lines: ~400 bytes
	kh := filepath.Join(t.TempDir(), "dir", "known_hosts")
	const prefix = "# written by hand, no final newline"
	if err := os.MkdirAll(filepath.Dir(kh), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, kh, []byte(prefix))
	const goroutines, lines = 64, 8
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*lines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range lines {
				if err := appendText(kh, khAppendLine(key, g, i)+"\n"); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	khCheckAppended(t, kh, prefix, key, goroutines, lines)
}

func TestKnownHostsMultiProcessAppend(t *testing.T) {
	if spec := os.Getenv(khAppenderEnv); spec != "" {
		khRunAppender(t, spec)
		return
	}
	if runtime.GOOS == "js" || runtime.GOOS == "wasip1" || runtime.GOOS == "ios" || runtime.GOOS == "android" {
		t.Skip("cannot re-execute the test binary here")
	}
	dir := t.TempDir()
	key := khSigner(t, ssh.KeyAlgoRSA).PublicKey()
	keyFile := filepath.Join(dir, "key.pub")
	writeFile(t, keyFile, ssh.MarshalAuthorizedKey(key))
	kh := filepath.Join(dir, "known_hosts")
	const prefix = "# no final newline"
	writeFile(t, kh, []byte(prefix))
	const procs, goroutines, lines = 8, 8, 8
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmds := make([]*exec.Cmd, procs)
	outs := make([]strings.Builder, procs)
	for p := range procs {
		cmd := exec.CommandContext(t.Context(), exe, "-test.run=^TestKnownHostsMultiProcessAppend$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d,%d,%d,%s", khAppenderEnv, kh, p, goroutines, lines, keyFile))
		cmd.Stdout, cmd.Stderr = &outs[p], &outs[p]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[p] = cmd
	}
	for p, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("appender %d: %v\n%s", p, err, outs[p].String())
		}
	}
	khCheckAppended(t, kh, prefix, key, procs*goroutines, lines)
}

// khRunAppender appends lines for writers proc*goroutines .. +goroutines-1,
// each from its own goroutine.
func khRunAppender(t *testing.T, spec string) {
	f := strings.Split(spec, ",")
	if len(f) != 5 {
		t.Fatalf("bad %s=%q", khAppenderEnv, spec)
	}
	proc, _ := strconv.Atoi(f[1])
	goroutines, _ := strconv.Atoi(f[2])
	lines, _ := strconv.Atoi(f[3])
	data, err := os.ReadFile(f[4])
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range lines {
				if err := appendText(f[0], khAppendLine(k, proc*goroutines+g, i)+"\n"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}
