package knownhosts

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Lines returns the known_hosts text recording key for hosts, as OpenSSH
// writes it: one line "host1,host2 type base64\n", or with hash one hashed
// line per host. A certificate is recorded as its plain key. Every host
// must pass CheckHostName (so no host can inject a second line, a pattern
// or a marker); otherwise, or with no host or a nil key, the error wraps
// ErrInvalidLine.
func Lines(hosts []string, key ssh.PublicKey, hash bool) (string, error) {
	if len(hosts) == 0 {
		return "", fmt.Errorf("%w: no host name", ErrInvalidLine)
	}
	if key == nil {
		return "", fmt.Errorf("%w: no key", ErrInvalidLine)
	}
	for _, h := range hosts {
		if err := CheckHostName(h); err != nil {
			return "", err
		}
	}
	if cert, ok := key.(*ssh.Certificate); ok {
		key = cert.Key
	}
	k := authorizedKey(key)
	if !hash {
		return strings.Join(hosts, ",") + " " + k + "\n", nil
	}
	var b strings.Builder
	for _, h := range hosts {
		b.WriteString(HashHostName(h) + " " + k + "\n")
	}
	return b.String(), nil
}

// Append records key for hosts at the end of the file at path: the text of
// Lines(hosts, key, hash). Missing directories are created with mode 0700
// and a missing file with mode 0600. The text is appended with one write
// under an advisory lock (flock on Unix, LockFileEx on Windows), so
// concurrent writers using this package, in this process or others, never
// lose or interleave lines; a file that does not end in a
// newline gets one first. Existing lines are never rewritten. os.DevNull
// takes the text and keeps nothing.
//
// Append does not look at what the file holds: check with a DB first that
// the key is not revoked. Errors: Lines' errors (wrapping ErrInvalidLine);
// an error wrapping ErrFile when the path exists and is not a regular file
// (it is not opened, so a FIFO cannot block) or cannot be written. Append
// blocks while another writer holds the lock.
func Append(path string, hosts []string, key ssh.PublicKey, hash bool) error {
	text, err := Lines(hosts, key, hash)
	if err != nil {
		return err
	}
	return appendText(path, text)
}

// appendText appends text (whole lines) to the file at path.
func appendText(path, text string) (err error) {
	fail := func(err error) error {
		return fmt.Errorf("%w: %s: %w", ErrFile, path, err)
	}
	if filepath.Clean(path) == os.DevNull {
		return nil
	}
	if fi, err := os.Stat(path); err == nil {
		if err := checkFileInfo(fi); err != nil {
			return fail(err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fail(err)
	}
	// O_RDWR: the last byte is read, under the lock, to see whether the
	// file ends in a newline.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fail(cerr)
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if !fi.Mode().IsRegular() {
		return fail(fmt.Errorf("not a regular file (%s)", fi.Mode().Type()))
	}
	unlock, err := lockFile(f)
	if err != nil {
		return fail(err)
	}
	defer unlock()

	// Under the lock nobody else appends, so the size and the last byte are
	// those the write will follow.
	if fi, err = f.Stat(); err != nil {
		return fail(err)
	}
	buf := []byte(text)
	if size := fi.Size(); size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err != nil && !errors.Is(err, io.EOF) {
			return fail(err)
		}
		if last[0] != '\n' {
			buf = append([]byte{'\n'}, buf...)
		}
	}
	// One write(2) of whole lines with O_APPEND: even a writer that does
	// not take the lock cannot split them.
	n, err := f.Write(buf)
	if err != nil {
		return fail(err)
	}
	if n != len(buf) {
		return fail(io.ErrShortWrite)
	}
	return nil
}
