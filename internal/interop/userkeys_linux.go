package interop

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// homeKeyMarker starts the comment of every line authorizeInHome writes; the rest of the
// comment is the Env.Dir that owns the line.
const homeKeyMarker = "libssh-interop:"

// authorizeInHome adds the authorized_keys lines in content to User's ~/.ssh/authorized_keys
// for the life of t, for servers that read no other file (Dropbear 2022.83 has no option for
// it). sshd never reads that file: its AuthorizedKeysFile is in Env.Dir.
//
// Several Envs, in this and other test processes, share the file, so every change is made
// under an flock(2) on ~/.ssh/.libssh-interop.lock and written to a temporary file renamed
// over the old one (a server reading it sees the old or the new file, never half of one).
// Each line is tagged with homeKeyMarker and Env.Dir; the cleanup removes this Env's lines and
// leaves every other line as it was, and each change also drops tagged lines whose directory
// no longer exists (left by a test process that was killed).
func (e *Env) authorizeInHome(t testing.TB, content string) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(content), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			t.Fatalf("interop: malformed authorized key %q", l)
		}
		lines = append(lines, f[0]+" "+f[1]+" "+homeKeyMarker+e.Dir)
	}
	sshDir := filepath.Join(e.home, ".ssh")
	if err := e.editHomeKeys(sshDir, func(kept []string) []string { return append(kept, lines...) }); err != nil {
		t.Fatalf("interop: adding keys to %s/authorized_keys: %v", sshDir, err)
	}
	t.Cleanup(func() {
		if err := e.editHomeKeys(sshDir, func(kept []string) []string { return kept }); err != nil {
			t.Errorf("interop: removing keys from %s/authorized_keys: %v", sshDir, err)
		}
	})
}

// editHomeKeys rewrites sshDir/authorized_keys under the lock: it drops this Env's tagged lines
// and stale tagged lines, and writes what edit returns for the remaining lines. An empty result
// removes the file.
func (e *Env) editHomeKeys(sshDir string, edit func(kept []string) []string) error {
	if err := os.Mkdir(sshDir, 0o700); err == nil {
		// Dropbear, like sshd, accepts only a ~/.ssh that belongs to the user and that
		// no one else can write.
		if err := os.Chown(sshDir, e.uid, e.gid); err != nil {
			return err
		}
	} else if !os.IsExist(err) {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(sshDir, ".libssh-interop.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := lock.Chown(e.uid, e.gid); err != nil {
		return err
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	// Closing the file releases the lock.

	path := filepath.Join(sshDir, "authorized_keys")
	var kept []string
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	sc := bufio.NewScanner(strings.NewReader(string(old)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if dir, ok := taggedDir(line); ok {
			if dir == e.Dir {
				continue
			}
			if _, err := os.Stat(dir); os.IsNotExist(err) {
				continue // its test process is gone
			}
		}
		kept = append(kept, line)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	lines := edit(kept)
	if len(lines) == 0 {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	tmp, err := os.CreateTemp(sshDir, ".authorized_keys.libssh-interop-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, werr := tmp.WriteString(strings.Join(lines, "\n") + "\n")
	cerr := tmp.Chown(e.uid, e.gid)
	if err := tmp.Close(); werr == nil && cerr == nil {
		werr = err
	}
	if werr != nil {
		return werr
	}
	if cerr != nil {
		return cerr
	}
	return os.Rename(tmp.Name(), path)
}

// taggedDir returns the Env.Dir in the comment of an authorized_keys line authorizeInHome
// wrote.
func taggedDir(line string) (string, bool) {
	f := strings.SplitN(line, " ", 3)
	if len(f) < 3 {
		return "", false
	}
	return strings.CutPrefix(f[2], homeKeyMarker)
}
