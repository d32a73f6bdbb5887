package ssh

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/libssh-go/libssh/knownhosts"
	gossh "golang.org/x/crypto/ssh"
)

// The known_hosts database is package knownhosts; this file looks the
// connection's server up in it under OpenSSH's names and rules.

var (
	// ErrHostKeyRevoked is wrapped by the *HostKeyError for a server key,
	// or the certificate authority that signed the server's certificate,
	// that a known_hosts file marks @revoked. Such a key is refused under
	// every StrictHostKeyChecking policy and cannot be recorded. It is
	// knownhosts.ErrRevoked.
	ErrHostKeyRevoked = knownhosts.ErrRevoked

	// ErrHostCertificateInvalid is wrapped by the *HostKeyError for a host
	// certificate signed by a certificate authority known for the host
	// that is nevertheless not valid: not a host certificate, not issued
	// for this host name, outside its validity period, with critical
	// options, or with a bad signature. OpenSSH refuses such a certificate
	// rather than falling back to the plain key. It is
	// knownhosts.ErrCertificateInvalid.
	ErrHostCertificateInvalid = knownhosts.ErrCertificateInvalid

	// ErrKnownHostsFile is wrapped, together with the cause, by the error
	// of a known_hosts file that exists but cannot be used: unreadable, not
	// a regular file (a directory, a FIFO, a device), or larger than 64 MiB.
	// The host key is then not verified: the check fails closed. It is
	// knownhosts.ErrFile.
	ErrKnownHostsFile = knownhosts.ErrFile
)

// loadKnownHosts loads the user files, then the global ones, and logs the
// lines it skipped at level.
func loadKnownHosts(opts Options, log *slog.Logger, level slog.Level) (*knownhosts.DB, error) {
	files := append(slices.Clone(opts.KnownHosts), opts.GlobalKnownHosts...)
	db, err := knownhosts.Load(files...)
	if err != nil {
		return nil, err
	}
	skipped, n := db.Skipped()
	logSkippedLines(log, level, skipped)
	if n > len(skipped) {
		log.Log(context.Background(), level, "known_hosts: more malformed lines skipped", "count", n-len(skipped))
	}
	return db, nil
}

func logSkippedLines(log *slog.Logger, level slog.Level, lines []*knownhosts.LineError) {
	for _, e := range lines {
		log.Log(context.Background(), level, "known_hosts: skipping malformed line", "file", e.File, "line", e.Line, "err", e.Err)
	}
}

// knownHostsNames are the names a connection is looked up under.
type knownHostsNames struct {
	host     string // HostKeyAlias, or KnownHostsHostname(Host, Port)
	ip       string // KnownHostsHostname(remote IP, Port) with CheckHostIP; "" otherwise
	certName string // the name a host certificate must list: HostKeyAlias or Host
}

func lookupNames(opts Options, remote net.Addr) knownHostsNames {
	n := knownHostsNames{host: KnownHostsHostname(opts.Host, opts.Port), certName: opts.Host}
	if opts.HostKeyAlias != "" {
		// OpenSSH uses the alias as it is, without a port.
		n.host, n.certName = opts.HostKeyAlias, opts.HostKeyAlias
	}
	// Through a proxy the transport's address is not the server's, as in
	// OpenSSH ("no hostip for proxy command").
	proxied := opts.ProxyCommand != "" && opts.ProxyCommand != "none" || opts.ProxyJump != "" && opts.ProxyJump != "none"
	if tcp, ok := remote.(*net.TCPAddr); ok && opts.CheckHostIP && !proxied {
		ip := tcp.IP.String()
		// As OpenSSH: no separate address check when the host is the address.
		if ip != opts.Host {
			n.ip = KnownHostsHostname(ip, opts.Port)
		}
	}
	return n
}

// knownHostsResult is the outcome of checking a server key.
type knownHostsResult struct {
	state   KnownHostsState
	entry   *knownhosts.Entry // the entry that decided, if any
	err     error             // revoked or bad certificate, wrapped in nothing yet
	ipState KnownHostsState   // the address entry's verdict with CheckHostIP; KnownHostsNotFound otherwise
}

// checkKnownHosts looks the server key up in the user files, then the
// global ones. With CheckHostIP, the address entry is checked too: a key
// that known_hosts holds for the name but that differs from the one it
// holds for the address is reported Changed (OpenSSH asks, or refuses with
// StrictHostKeyChecking=yes).
func checkKnownHosts(opts Options, remote net.Addr, key gossh.PublicKey, log *slog.Logger) (knownHostsResult, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	names := lookupNames(opts, remote)
	db, err := loadKnownHosts(opts, log, slog.LevelWarn)
	if err != nil {
		return knownHostsResult{state: KnownHostsUnknown}, err
	}
	now := time.Now()
	v, verr := db.Check(knownhosts.Query{Name: names.host, Principal: names.certName, Time: now}, key)
	logSkippedLines(log, slog.LevelWarn, v.Skipped)
	res := knownHostsResult{state: v.State, entry: v.Entry, err: verr, ipState: KnownHostsNotFound}
	if v.State == KnownHostsNotFound {
		return res, nil
	}
	if names.ip != "" {
		iv, ierr := db.Check(knownhosts.Query{Name: names.ip, Principal: names.certName, Time: now}, key)
		logSkippedLines(log, slog.LevelWarn, iv.Skipped)
		res.ipState = iv.State
		switch {
		case ierr != nil && res.err == nil:
			res.state, res.entry, res.err = iv.State, iv.Entry, ierr
		case res.state == KnownHostsOK && iv.State == KnownHostsChanged:
			log.Warn("known_hosts: the host key differs from the one recorded for the address",
				"host", names.host, "address", names.ip, "file", iv.Entry.File, "line", iv.Entry.Line)
			res.state, res.entry = KnownHostsChanged, iv.Entry
		}
	}
	return res, nil
}

// hostKeyResultError turns a result into the *HostKeyError that refuses
// the key, with the place of the deciding entry.
func (c *conn) hostKeyResultError(res knownHostsResult, key gossh.PublicKey, cause error) *HostKeyError {
	e := c.hostKeyError(res.state, key, cause)
	if res.entry != nil {
		e.File, e.Line = res.entry.File, res.entry.Line
	}
	return e
}

// knownHostsCheck runs checkKnownHosts for the connection's server key and
// turns a revoked key, an invalid certificate or an unusable file into a
// *HostKeyError.
func (c *conn) knownHostsCheck(key gossh.PublicKey) (knownHostsResult, error) {
	var remote net.Addr
	if c.transport != nil {
		remote = c.transport.RemoteAddr()
	}
	res, err := checkKnownHosts(c.opts, remote, key, c.log)
	if err != nil {
		return res, c.hostKeyResultError(res, key, fmt.Errorf("%w: %w", ErrHostKeyNotVerified, err))
	}
	if res.err != nil {
		return res, c.hostKeyResultError(res, key, res.err)
	}
	return res, nil
}

// IsKnownServer checks the server's host key against the known_hosts files
// (libssh's ssh_session_is_known_server): the user files (the KnownHosts
// option; default ~/.ssh/known_hosts and known_hosts2), then the global
// ones (GlobalKnownHosts; default /etc/ssh/ssh_known_hosts and
// ssh_known_hosts2). The host is looked up as OpenSSH does: under
// HostKeyAlias if set, else as "host" for port 22 and "[host]:port"
// otherwise, in plain, wildcard, negated and hashed entries; with
// CheckHostIP, the server's address is looked up too.
//
// The states: KnownHostsOK, the key (or the CA of its host certificate) is
// recorded for the host; KnownHostsChanged, another key of the same type is
// recorded (or, with CheckHostIP, another key for the address);
// KnownHostsOther, only keys of other types are recorded; KnownHostsUnknown,
// the files hold no entry for the host; KnownHostsNotFound, none of the
// files exists.
//
// KnownHostsOK also accepts the key, so authentication can go on, as libssh
// programs expect. Any other state leaves the decision to the application
// (UpdateKnownHostsFile, AcceptHostKey) or to the StrictHostKeyChecking
// policy at the first Userauth call.
//
// Errors: ErrNotConnected before Connect; a *HostKeyError with state
// KnownHostsChanged wrapping ErrHostKeyRevoked for a key or CA marked
// @revoked, or ErrHostCertificateInvalid for a certificate from a known CA
// that is not valid; a *HostKeyError with state KnownHostsUnknown wrapping
// ErrHostKeyNotVerified and ErrKnownHostsFile when a file exists but cannot
// be used. Malformed lines are skipped (and logged), never an error. The
// call reads files only; it does not wait on the network.
//
// KnownHostsMatch gives the same state with the entry behind it.
func (s *Session) IsKnownServer() (KnownHostsState, error) {
	c, res, err := s.checkServerKey()
	if err != nil {
		return res.state, err
	}
	if res.state == KnownHostsOK {
		if err := c.decideHostKey(nil); err != nil {
			return res.state, err
		}
	}
	return res.state, nil
}

// KnownHostsMatch is what the known_hosts files say about the server's
// key, with the entry that decided it and where that entry is.
type KnownHostsMatch struct {
	State KnownHostsState
	// Entry is the deciding entry: for KnownHostsOK the one holding the key
	// (or the @cert-authority that signed its certificate); for
	// KnownHostsChanged the one holding another key of the same type (the
	// "Offending key" of OpenSSH's warning), or with CheckHostIP the
	// address's entry; for KnownHostsOther the first entry of another type;
	// for a revoked key the @revoked entry. Its Key is nil when no entry
	// decided (KnownHostsUnknown, KnownHostsNotFound).
	Entry KnownHostsEntry
	File  string // the file holding Entry; "" when none
	Line  int    // Entry's 1-based line number in File; 0 when none
}

// KnownHostsMatch checks the server's host key as IsKnownServer does and
// returns the state together with the entry that decided it, so that a
// program can warn as OpenSSH does ("Offending ED25519 key in
// /home/u/.ssh/known_hosts:3") before any authentication attempt. libssh's
// ssh_session_get_known_hosts_entry gives the entry; this also gives its
// place. Unlike IsKnownServer it decides nothing, not even for
// KnownHostsOK: it only reads the files.
//
// Errors are IsKnownServer's; with a *HostKeyError the match is still
// filled in as far as it is known.
func (s *Session) KnownHostsMatch() (KnownHostsMatch, error) {
	_, res, err := s.checkServerKey()
	m := KnownHostsMatch{State: res.state}
	if res.entry != nil {
		m.Entry, m.File, m.Line = knownHostsEntryOf(*res.entry), res.entry.File, res.entry.Line
	}
	return m, err
}

// checkServerKey runs knownHostsCheck on the live connection's host key.
func (s *Session) checkServerKey() (*conn, knownHostsResult, error) {
	c, err := s.live()
	if err != nil {
		return nil, knownHostsResult{state: KnownHostsUnknown}, err
	}
	c.mu.Lock()
	key, muxed := c.hostKey, c.muxed
	c.mu.Unlock()
	if muxed {
		return c, knownHostsResult{state: KnownHostsOK}, nil // the ControlMaster checked it
	}
	if key == nil {
		return c, knownHostsResult{state: KnownHostsUnknown}, fmt.Errorf("%w: no host key received yet", ErrNotConnected)
	}
	res, err := c.knownHostsCheck(key)
	return c, res, err
}

// orderHostKeyAlgorithms returns opts.HostKeyAlgorithms with the algorithms
// of key types already known for the host first, as OpenSSH's
// order_hostkeyalgs does (knownhosts.DB.HostKeyAlgorithms): certificate
// algorithms first when a @cert-authority entry matches the host, then the
// algorithms of the plain key types recorded for it, then the rest.
// Without this, x/crypto takes the server's first match in its own order
// and may get a key type known_hosts does not hold, which reads as
// KnownHostsOther. Files that cannot be read are ignored here
// (IsKnownServer reports them).
func orderHostKeyAlgorithms(opts Options, host string, port int, log *slog.Logger) []string {
	algs := slices.Clone(opts.HostKeyAlgorithms)
	if len(algs) == 0 {
		return algs
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts.Host, opts.Port = host, port
	names := lookupNames(opts, nil)
	// Debug: IsKnownServer or the policy reads the same files and warns.
	db, err := loadKnownHosts(opts, log, slog.LevelDebug)
	if err != nil {
		log.Debug("known_hosts: not ordering host key algorithms", "err", err)
		return algs
	}
	ordered := db.HostKeyAlgorithms(names.host, algs)
	if !slices.Equal(ordered, algs) {
		log.Debug("known_hosts: host key algorithms ordered", "host", names.host, "algorithms", strings.Join(ordered, ","))
	}
	return ordered
}
