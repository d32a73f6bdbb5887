package ssh

import (
	"fmt"
	"net"

	"github.com/libssh-go/libssh/knownhosts"
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
	key, muxed := c.hostKey, c.muxed
	c.mu.Unlock()
	if muxed {
		return nil // nothing to record: the ControlMaster checked the key
	}
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
	path := c.opts.KnownHosts[0]
	if err := knownhosts.Append(path, hosts, key, c.opts.HashKnownHosts); err != nil {
		return err
	}
	c.log.Info("known_hosts: recorded host key", "file", path, "host", names.host,
		"type", key.Type(), "fingerprint", gossh.FingerprintSHA256(key))
	return nil
}
