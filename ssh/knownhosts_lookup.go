package ssh

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

var (
	// ErrHostKeyRevoked is wrapped by the *HostKeyError for a server key,
	// or the certificate authority that signed the server's certificate,
	// that a known_hosts file marks @revoked. Such a key is refused under
	// every StrictHostKeyChecking policy and cannot be recorded.
	ErrHostKeyRevoked = errors.New("ssh: host key revoked")

	// ErrHostCertificateInvalid is wrapped by the *HostKeyError for a host
	// certificate signed by a certificate authority known for the host
	// that is nevertheless not valid: not a host certificate, not issued
	// for this host name, outside its validity period, with critical
	// options, or with a bad signature. OpenSSH refuses such a certificate
	// rather than falling back to the plain key.
	ErrHostCertificateInvalid = errors.New("ssh: host certificate invalid")

	// ErrKnownHostsFile is wrapped, together with the cause, by the error
	// of a known_hosts file that exists but cannot be used: unreadable, not
	// a regular file (a directory, a FIFO, a device), or larger than 64 MiB.
	// The host key is then not verified: the check fails closed.
	ErrKnownHostsFile = errors.New("ssh: known_hosts file unusable")
)

const (
	// maxKnownHostsFileSize bounds what one known_hosts file may hold. Real
	// files are kilobytes; the bound keeps a wrong path (a sparse or huge
	// file) from costing time and memory.
	maxKnownHostsFileSize = 64 << 20
	// maxKnownHostsLine bounds a line; longer lines are skipped. The
	// longest real line, a 16384-bit RSA key with a long hashed name, stays
	// under 3 KiB.
	maxKnownHostsLine = 64 << 10
)

// knownHostsEntry is an entry with the place it was read from.
type knownHostsEntry struct {
	KnownHostsEntry
	file string
	line int
}

// scanKnownHosts calls fn for every line of path that is not blank or a
// comment, with its 1-based number. It returns exists=false, and no error,
// when path does not exist. The path is checked with stat before it is
// opened, so that a FIFO (whose open would block) or a device is refused
// without reading from it; os.DevNull counts as an existing empty file,
// since "UserKnownHostsFile /dev/null" is a common way to say "none".
func scanKnownHosts(path string, log *slog.Logger, level slog.Level, fn func(line int, text string)) (exists bool, err error) {
	fail := func(err error) (bool, error) {
		return true, fmt.Errorf("%w: %s: %w", ErrKnownHostsFile, path, err)
	}
	if filepath.Clean(path) == os.DevNull {
		return true, nil
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return fail(err)
	}
	if err := checkKnownHostsFileInfo(fi); err != nil {
		return fail(err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	// The path may have been replaced since the Stat; check what was opened.
	if fi, err = f.Stat(); err != nil {
		return fail(err)
	}
	if err := checkKnownHostsFileInfo(fi); err != nil {
		return fail(err)
	}

	r := bufio.NewReaderSize(io.LimitReader(f, maxKnownHostsFileSize+1), 4096)
	var (
		buf      []byte
		lineNo   int
		tooLong  bool
		consumed int64
	)
	for {
		chunk, err := r.ReadSlice('\n')
		consumed += int64(len(chunk))
		if consumed > maxKnownHostsFileSize {
			return fail(errors.New("file grew beyond 64 MiB while being read"))
		}
		if !tooLong {
			if len(buf)+len(chunk) > maxKnownHostsLine+2 { // +2: the CR LF ending
				tooLong, buf = true, buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(chunk) > 0 || len(buf) > 0 || tooLong {
			lineNo++
			if tooLong {
				log.Log(context.Background(), level, "known_hosts: skipping a line longer than 64 KiB", "file", path, "line", lineNo)
			} else if text := bytes.TrimSpace(buf); len(text) > 0 && text[0] != '#' {
				fn(lineNo, string(bytes.TrimRight(buf, "\r\n")))
			}
		}
		buf, tooLong = buf[:0], false
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return fail(err)
		}
	}
}

func checkKnownHostsFileInfo(fi fs.FileInfo) error {
	switch {
	case fi.IsDir():
		return errors.New("is a directory")
	case !fi.Mode().IsRegular():
		return fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	case fi.Size() > maxKnownHostsFileSize:
		return fmt.Errorf("file of %d bytes is larger than 64 MiB", fi.Size())
	}
	return nil
}

// loadKnownHosts returns, for each name, the entries of files whose host
// field matches it, in file order, and whether any of the files exists.
// Malformed lines are skipped and logged at level. Keys are decoded only
// for lines whose host field matches, so a large file of other hosts costs
// little.
func loadKnownHosts(files, names []string, log *slog.Logger, level slog.Level) (matches [][]knownHostsEntry, exists bool, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx := context.Background()
	matches = make([][]knownHostsEntry, len(names))
	lower := make([]string, len(names))
	for i, n := range names {
		lower[i] = asciiLower(n)
	}
	for _, path := range files {
		ok, err := scanKnownHosts(path, log, level, func(line int, text string) {
			e, keyType, blob, err := splitKnownHostsLine(text)
			if err != nil {
				log.Log(ctx, level, "known_hosts: skipping malformed line", "file", path, "line", line, "err", err)
				return
			}
			var key *Key
			for i, name := range lower {
				if !e.MatchHostname(name) {
					continue
				}
				if key == nil {
					if key, err = parseKnownHostsKey(keyType, blob); err != nil {
						log.Log(ctx, level, "known_hosts: skipping malformed line", "file", path, "line", line, "err", err)
						return
					}
					if e.Marker == MarkerCertAuthority && key.Certificate() != nil {
						log.Log(ctx, level, "known_hosts: skipping @cert-authority line with a certificate", "file", path, "line", line)
						return
					}
					e.Key = key
				}
				matches[i] = append(matches[i], knownHostsEntry{KnownHostsEntry: e, file: path, line: line})
			}
		})
		if err != nil {
			return nil, false, err
		}
		exists = exists || ok
	}
	return matches, exists, nil
}

// knownHostsVerdict is what the entries for one name say about a key.
type knownHostsVerdict struct {
	state KnownHostsState
	entry *knownHostsEntry // the matching or conflicting entry; nil when none
	err   error            // ErrHostKeyRevoked or ErrHostCertificateInvalid, wrapped
}

// judgeHostKey applies OpenSSH's rules (hostfile.c
// check_hostkeys_by_key_or_type, sshconnect.c check_host_key) to the
// entries matching one name:
//
//   - a key, or the CA of a certificate, listed @revoked is refused;
//   - a certificate signed by a CA listed @cert-authority for the host is
//     OK if valid for certName now, refused if not; a certificate whose CA
//     is not listed is judged as its plain key;
//   - a plain key is OK when an entry holds it, Changed when an entry holds
//     another key of its type, Other when entries hold only other types.
func judgeHostKey(entries []knownHostsEntry, key gossh.PublicKey, certName string, now time.Time) knownHostsVerdict {
	plain := key
	cert, isCert := key.(*gossh.Certificate)
	if isCert {
		plain = cert.Key
	}
	for i := range entries {
		e := &entries[i]
		if e.Marker != MarkerRevoked {
			continue
		}
		rk := e.Key.PublicKey()
		if sameKey(rk, plain) || sameKey(rk, key) || isCert && sameKey(rk, cert.SignatureKey) {
			return knownHostsVerdict{state: KnownHostsChanged, entry: e, err: ErrHostKeyRevoked}
		}
	}
	if isCert {
		for i := range entries {
			e := &entries[i]
			if e.Marker != MarkerCertAuthority || !sameKey(e.Key.PublicKey(), cert.SignatureKey) {
				continue
			}
			if err := checkHostCertificate(cert, certName, now); err != nil {
				return knownHostsVerdict{state: KnownHostsChanged, entry: e,
					err: fmt.Errorf("%w: %w", ErrHostCertificateInvalid, err)}
			}
			return knownHostsVerdict{state: KnownHostsOK, entry: e}
		}
	}
	v := knownHostsVerdict{state: KnownHostsUnknown}
	for i := range entries {
		e := &entries[i]
		if e.Marker != MarkerNone {
			continue
		}
		k := e.Key.PublicKey()
		switch {
		case sameKey(k, plain):
			return knownHostsVerdict{state: KnownHostsOK, entry: e}
		case k.Type() == plain.Type():
			if v.state != KnownHostsChanged {
				v = knownHostsVerdict{state: KnownHostsChanged, entry: e}
			}
		case v.state == KnownHostsUnknown:
			v = knownHostsVerdict{state: KnownHostsOther, entry: e}
		}
	}
	return v
}

func sameKey(a, b gossh.PublicKey) bool {
	return a != nil && b != nil && bytes.Equal(a.Marshal(), b.Marshal())
}

// checkHostCertificate validates a host certificate whose signer is a CA
// known for the host: OpenSSH's sshkey_cert_check_authority for a host
// certificate. Unlike OpenSSH, a certificate without principals is refused:
// "valid for every host" is never what a CA operator means.
func checkHostCertificate(cert *gossh.Certificate, name string, now time.Time) error {
	if cert.CertType != gossh.HostCert {
		return errors.New("not a host certificate")
	}
	if len(cert.ValidPrincipals) == 0 {
		return errors.New("certificate lists no principals")
	}
	if !slices.ContainsFunc(cert.ValidPrincipals, func(p string) bool { return asciiLower(p) == asciiLower(name) }) {
		return fmt.Errorf("certificate is not valid for %q", name)
	}
	// OpenSSH refuses host certificates with critical options
	// (sshconnect.c check_host_cert); none is defined for host certs.
	if len(cert.CriticalOptions) > 0 {
		return errors.New("certificate has critical options")
	}
	// CertChecker verifies the validity period and the CA's signature; the
	// principal was matched above, case-insensitively as host names are.
	checker := gossh.CertChecker{Clock: func() time.Time { return now }}
	if err := checker.CheckCert(cert.ValidPrincipals[0], cert); err != nil {
		return err
	}
	return nil
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
	entry   *knownHostsEntry // the entry that decided, if any
	err     error            // revoked or bad certificate, wrapped in nothing yet
	ipState KnownHostsState  // the address entry's verdict with CheckHostIP; KnownHostsNotFound otherwise
}

// checkKnownHosts looks the server key up in the user files, then the
// global ones. With CheckHostIP, the address entry is checked too: a key
// that known_hosts holds for the name but that differs from the one it
// holds for the address is reported Changed (OpenSSH asks, or refuses with
// StrictHostKeyChecking=yes).
func checkKnownHosts(opts Options, remote net.Addr, key gossh.PublicKey, log *slog.Logger) (knownHostsResult, error) {
	names := lookupNames(opts, remote)
	query := []string{names.host}
	if names.ip != "" {
		query = append(query, names.ip)
	}
	files := append(slices.Clone(opts.KnownHosts), opts.GlobalKnownHosts...)
	matches, exists, err := loadKnownHosts(files, query, log, slog.LevelWarn)
	if err != nil {
		return knownHostsResult{state: KnownHostsUnknown}, err
	}
	now := time.Now()
	v := judgeHostKey(matches[0], key, names.certName, now)
	res := knownHostsResult{state: v.state, entry: v.entry, err: v.err, ipState: KnownHostsNotFound}
	if !exists {
		res.state = KnownHostsNotFound
		return res, nil
	}
	if names.ip != "" {
		iv := judgeHostKey(matches[1], key, names.certName, now)
		res.ipState = iv.state
		switch {
		case iv.err != nil && res.err == nil:
			res.state, res.entry, res.err = iv.state, iv.entry, iv.err
		case res.state == KnownHostsOK && iv.state == KnownHostsChanged:
			log.Warn("known_hosts: the host key differs from the one recorded for the address",
				"host", names.host, "address", names.ip, "file", iv.entry.file, "line", iv.entry.line)
			res.state, res.entry = KnownHostsChanged, iv.entry
		}
	}
	return res, nil
}

// hostKeyResultError turns a result into the *HostKeyError that refuses
// the key, with the place of the deciding entry.
func (c *conn) hostKeyResultError(res knownHostsResult, key gossh.PublicKey, cause error) *HostKeyError {
	e := c.hostKeyError(res.state, key, cause)
	if res.entry != nil {
		e.File, e.Line = res.entry.file, res.entry.line
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
		m.Entry, m.File, m.Line = res.entry.KnownHostsEntry, res.entry.file, res.entry.line
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
	key := c.hostKey
	c.mu.Unlock()
	if key == nil {
		return c, knownHostsResult{state: KnownHostsUnknown}, fmt.Errorf("%w: no host key received yet", ErrNotConnected)
	}
	res, err := c.knownHostsCheck(key)
	return c, res, err
}

// orderHostKeyAlgorithms returns opts.HostKeyAlgorithms with the algorithms
// of key types already known for the host first, as OpenSSH's
// order_hostkeyalgs does: certificate algorithms first when a
// @cert-authority entry matches the host, then the algorithms of the plain
// key types recorded for it, each group in the configured order, then the
// rest. Without this, x/crypto takes the server's first match in its own
// order and may get a key type known_hosts does not hold, which reads as
// KnownHostsOther. Only algorithms already in the list are used. Files that
// cannot be read are ignored here (IsKnownServer reports them).
func orderHostKeyAlgorithms(opts Options, host string, port int, log *slog.Logger) []string {
	algs := slices.Clone(opts.HostKeyAlgorithms)
	if len(algs) == 0 {
		return algs
	}
	opts.Host, opts.Port = host, port
	names := lookupNames(opts, nil)
	files := append(slices.Clone(opts.KnownHosts), opts.GlobalKnownHosts...)
	// Debug: IsKnownServer or the policy reads the same files and warns.
	matches, _, err := loadKnownHosts(files, []string{names.host}, log, slog.LevelDebug)
	if err != nil {
		log.Debug("known_hosts: not ordering host key algorithms", "err", err)
		return algs
	}
	known := map[string]bool{}
	ca := false
	for _, e := range matches[0] {
		switch e.Marker {
		case MarkerNone:
			known[e.Key.Type()] = true
		case MarkerCertAuthority:
			ca = true
		}
	}
	if len(known) == 0 && !ca {
		return algs
	}
	var certs, plain, rest []string
	for _, a := range algs {
		switch {
		case ca && isCertAlgorithm(a):
			certs = append(certs, a)
		case known[keyTypeOfAlgorithm(a)]:
			plain = append(plain, a)
		default:
			rest = append(rest, a)
		}
	}
	ordered := append(append(certs, plain...), rest...)
	log.Debug("known_hosts: host key algorithms ordered", "host", names.host, "algorithms", strings.Join(ordered, ","))
	return ordered
}

const certAlgorithmSuffix = "-cert-v01@openssh.com"

func isCertAlgorithm(alg string) bool { return strings.HasSuffix(alg, certAlgorithmSuffix) }

// keyTypeOfAlgorithm maps a host key signature algorithm to the key type
// known_hosts records: RSA keys sign with rsa-sha2-512, rsa-sha2-256 or
// ssh-rsa (RFC 8332) but are recorded as ssh-rsa; every other algorithm is
// named like its key type.
func keyTypeOfAlgorithm(alg string) string {
	switch alg {
	case gossh.KeyAlgoRSASHA256, gossh.KeyAlgoRSASHA512:
		return gossh.KeyAlgoRSA
	case gossh.CertAlgoRSASHA256v01, gossh.CertAlgoRSASHA512v01:
		return gossh.CertAlgoRSAv01
	}
	return alg
}
