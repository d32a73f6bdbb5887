package ssh

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// UpdateKnownHostsFile records the server's host key in the first user
// known_hosts file (the first KnownHosts value; default ~/.ssh/known_hosts)
// and accepts the key for this connection (libssh's
// ssh_session_update_known_hosts). The line is OpenSSH's: "host keytype
// base64", the host written as IsKnownServer looks it up (HostKeyAlias, or
// "[host]:port" for a port other than 22), hashed when HashKnownHosts is
// set. With CheckHostIP the server's address is recorded too. For a host
// certificate the certified plain key is recorded. The global files are
// never written.
//
// Missing directories are created with mode 0700 and a missing file with
// mode 0600. The line is appended with one write under an advisory lock
// (flock on Unix, LockFileEx on Windows), so concurrent writers, in this
// process or others, never lose or interleave lines; a file that does not
// end in a newline gets one first. Existing lines are never rewritten.
//
// Errors: ErrNotConnected before Connect; an error wrapping
// ErrInvalidKnownHosts for a host name that cannot be written as a single
// literal host (white space, control characters, commas, pattern
// characters); a *HostKeyError wrapping ErrHostKeyRevoked for a revoked key;
// a *HostKeyError wrapping ErrKnownHostsFile when the files cannot be read
// to check for revocation; an error wrapping ErrKnownHostsFile when the file
// cannot be written (it is then not accepted either).
func (s *Session) UpdateKnownHostsFile() error {
	c, err := s.live()
	if err != nil {
		return err
	}
	c.mu.Lock()
	key := c.hostKey
	c.mu.Unlock()
	if key == nil {
		return fmt.Errorf("%w: no host key received yet", ErrNotConnected)
	}
	res, err := c.knownHostsCheck(key)
	if err != nil {
		return err
	}
	if err := c.recordHostKey(key, res.ipState); err != nil {
		return err
	}
	return c.decideHostKey(nil)
}

// recordHostKey appends key to the first user known_hosts file under the
// connection's lookup names; with CheckHostIP the address too, unless
// ipState says it is already recorded with this key.
func (c *conn) recordHostKey(key gossh.PublicKey, ipState KnownHostsState) error {
	if len(c.opts.KnownHosts) == 0 {
		return fmt.Errorf("%w: no user known_hosts file configured", ErrKnownHostsFile)
	}
	var remote net.Addr
	if c.transport != nil {
		remote = c.transport.RemoteAddr()
	}
	names := lookupNames(c.opts, remote)
	hosts := []string{names.host}
	if names.ip != "" && ipState != KnownHostsOK {
		hosts = append(hosts, names.ip)
	}
	text, err := knownHostsLines(hosts, key, c.opts.HashKnownHosts)
	if err != nil {
		return err
	}
	path := c.opts.KnownHosts[0]
	if err := appendKnownHosts(path, text); err != nil {
		return err
	}
	c.log.Info("known_hosts: recorded host key", "file", path, "host", names.host,
		"type", key.Type(), "fingerprint", gossh.FingerprintSHA256(key))
	return nil
}

// knownHostsLines returns the text recording key for hosts: one line
// "host1,host2 type base64", or with hash one hashed line per host, as
// OpenSSH writes them. A certificate is recorded as its plain key.
func knownHostsLines(hosts []string, key gossh.PublicKey, hash bool) (string, error) {
	for _, h := range hosts {
		if err := checkRecordableHost(h); err != nil {
			return "", err
		}
	}
	if cert, ok := key.(*gossh.Certificate); ok {
		key = cert.Key
	}
	k := NewKey(key).AuthorizedKey()
	if !hash {
		return strings.Join(hosts, ",") + " " + k + "\n", nil
	}
	var b strings.Builder
	for _, h := range hosts {
		b.WriteString(HashKnownHostsHostname(h) + " " + k + "\n")
	}
	return b.String(), nil
}

// appendKnownHosts appends text (whole lines) to the file at path. It
// refuses a path that exists and is not a regular file before opening it:
// opening a FIFO for writing would block. os.DevNull takes the text and
// keeps nothing.
func appendKnownHosts(path, text string) (err error) {
	fail := func(err error) error {
		return fmt.Errorf("%w: %s: %w", ErrKnownHostsFile, path, err)
	}
	if filepath.Clean(path) == os.DevNull {
		return nil
	}
	if fi, err := os.Stat(path); err == nil {
		if err := checkKnownHostsFileInfo(fi); err != nil {
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
