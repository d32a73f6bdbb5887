package knownhosts

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// State is what known_hosts says about a host's key, with libssh's names
// (ssh_known_hosts_e). The zero value is Unknown, so a state that was never
// computed is never mistaken for a match.
type State int

// The states. Their values are libssh-go's ssh.KnownHostsState values.
const (
	Unknown  State = iota // files exist, no entry for this host
	NotFound              // no known_hosts file exists
	OK                    // the key (or the CA of its host certificate) is recorded for this host
	Changed               // a key of the same type is recorded, and differs; or the key is revoked
	Other                 // only keys of other types are recorded
)

// String is the state in words, as in messages.
func (s State) String() string {
	switch s {
	case NotFound:
		return "not found"
	case OK:
		return "ok"
	case Changed:
		return "changed"
	case Other:
		return "other"
	default:
		return "unknown"
	}
}

// Query says what a lookup looks for. The zero value looks up the empty
// name, which only a "*" pattern matches.
type Query struct {
	// Name is the host as known_hosts records it: HostName(host, port),
	// or an alias (OpenSSH HostKeyAlias), which is used as it is.
	Name string
	// Principal is the name a host certificate must list; "" means Name.
	// For HostName(host, port) it is host, without brackets or port.
	Principal string
	// Time is when a host certificate must be valid; the zero value means
	// time.Now().
	Time time.Time
}

// Result is the outcome of a lookup. The zero value is State Unknown
// without an entry.
type Result struct {
	State State
	// Entry is the deciding entry, with its File and Line: for OK the one
	// holding the key (or the @cert-authority that signed its
	// certificate); for Changed the first holding another key of the same
	// type (the "Offending key" of OpenSSH's warning), or the @revoked
	// line, or the @cert-authority of an invalid certificate; for Other
	// the first entry of another type. nil for Unknown and NotFound.
	Entry *Entry
	// Skipped are the lines naming the host that were left out because
	// their key does not parse (or is a certificate on a @cert-authority
	// line).
	Skipped []*LineError
}

// Lookup checks key for host and port, as OpenSSH's ssh does without
// HostKeyAlias: db.Check(Query{Name: HostName(host, port), Principal: host}, key).
func (db *DB) Lookup(host string, port int, key ssh.PublicKey) (Result, error) {
	return db.Check(Query{Name: HostName(host, port), Principal: host}, key)
}

// Check judges key by the entries whose host field matches q.Name, with
// OpenSSH's rules (hostfile.c check_hostkeys_by_key_or_type, sshconnect.c
// check_host_key):
//
//   - a key, the plain key of a certificate, or the CA that signed it,
//     named by a @revoked line is refused: Changed, with an error wrapping
//     ErrRevoked;
//   - a host certificate signed by a CA that a @cert-authority line names
//     for the host is OK if valid for q.Principal at q.Time, and refused
//     otherwise: Changed, with an error wrapping ErrCertificateInvalid; a
//     certificate whose CA is not listed is judged as its plain key;
//   - a plain key is OK when an entry holds it, Changed when an entry
//     holds another key of its type, Other when entries hold only keys of
//     other types, Unknown when no entry names the host, NotFound when the
//     DB holds no file.
//
// The error is nil but for a revoked key and an invalid certificate; the
// Result is filled in either way. A nil key is Unknown. Check reads only
// memory; it is safe for concurrent use.
func (db *DB) Check(q Query, key ssh.PublicKey) (Result, error) {
	if key == nil {
		return Result{State: Unknown}, nil
	}
	now := q.Time
	if now.IsZero() {
		now = time.Now()
	}
	principal := q.Principal
	if principal == "" {
		principal = q.Name
	}
	entries, skipped := db.matching(q.Name)
	for i := 0; i < len(entries); i++ {
		if e := entries[i]; e.Marker == MarkerCertAuthority {
			if _, isCert := e.Key.(*ssh.Certificate); isCert {
				skipped = append(skipped, &LineError{File: e.File, Line: e.Line,
					Err: fmt.Errorf("%w: a certificate cannot be a certificate authority", ErrInvalidLine)})
				entries = slices.Delete(entries, i, i+1)
				i--
			}
		}
	}
	res, err := judge(entries, key, principal, now)
	res.Skipped = skipped
	if db == nil || len(db.files) == 0 {
		res.State = NotFound
	}
	return res, err
}

func judge(entries []Entry, key ssh.PublicKey, principal string, now time.Time) (Result, error) {
	plain := key
	cert, isCert := key.(*ssh.Certificate)
	if isCert {
		plain = cert.Key
	}
	for i := range entries {
		e := &entries[i]
		if e.Marker != MarkerRevoked {
			continue
		}
		if sameKey(e.Key, plain) || sameKey(e.Key, key) || isCert && sameKey(e.Key, cert.SignatureKey) {
			return Result{State: Changed, Entry: e}, ErrRevoked
		}
	}
	if isCert {
		for i := range entries {
			e := &entries[i]
			if e.Marker != MarkerCertAuthority || !sameKey(e.Key, cert.SignatureKey) {
				continue
			}
			if err := checkHostCertificate(cert, principal, now); err != nil {
				return Result{State: Changed, Entry: e}, fmt.Errorf("%w: %w", ErrCertificateInvalid, err)
			}
			return Result{State: OK, Entry: e}, nil
		}
	}
	res := Result{State: Unknown}
	for i := range entries {
		e := &entries[i]
		if e.Marker != MarkerNone {
			continue
		}
		switch {
		case sameKey(e.Key, plain):
			return Result{State: OK, Entry: e}, nil
		case e.Key.Type() == plain.Type():
			if res.State != Changed {
				res = Result{State: Changed, Entry: e}
			}
		case res.State == Unknown:
			res = Result{State: Other, Entry: e}
		}
	}
	return res, nil
}

func sameKey(a, b ssh.PublicKey) bool {
	return a != nil && b != nil && bytes.Equal(a.Marshal(), b.Marshal())
}

// checkHostCertificate validates a host certificate whose signer is a CA
// known for the host: OpenSSH's sshkey_cert_check_authority for a host
// certificate. Unlike OpenSSH, a certificate without principals is refused:
// "valid for every host" is never what a CA operator means.
func checkHostCertificate(cert *ssh.Certificate, name string, now time.Time) error {
	if cert.CertType != ssh.HostCert {
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
	checker := ssh.CertChecker{Clock: func() time.Time { return now }}
	return checker.CheckCert(cert.ValidPrincipals[0], cert)
}

// KeyTypes returns the key types of the plain entries for name (as
// HostName writes it, or an alias), each once, in file order, and whether
// a @cert-authority line names the host. @revoked lines count for neither.
func (db *DB) KeyTypes(name string) (types []string, certAuthority bool) {
	entries, _ := db.matching(name)
	for _, e := range entries {
		switch e.Marker {
		case MarkerNone:
			if !slices.Contains(types, e.Key.Type()) {
				types = append(types, e.Key.Type())
			}
		case MarkerCertAuthority:
			certAuthority = true
		}
	}
	return types, certAuthority
}

// HostKeyAlgorithms returns algs, a host key algorithm list as
// ssh.ClientConfig.HostKeyAlgorithms takes it, reordered as OpenSSH's
// order_hostkeyalgs does for name: certificate algorithms first when a
// @cert-authority line names the host, then the algorithms of the key
// types recorded for it, each group in the order of algs, then the rest.
// Without this, x/crypto takes the server's first match in its own order
// and may get a key type the files do not hold for the host, which reads
// as Other. Only the algorithms of algs are returned; algs itself
// is not modified. For a host the DB knows nothing of, the result equals
// algs.
func (db *DB) HostKeyAlgorithms(name string, algs []string) []string {
	algs = slices.Clone(algs)
	known, ca := db.KeyTypes(name)
	if len(known) == 0 && !ca {
		return algs
	}
	var certs, plain, rest []string
	for _, a := range algs {
		switch {
		case ca && strings.HasSuffix(a, certAlgorithmSuffix):
			certs = append(certs, a)
		case slices.Contains(known, keyTypeOfAlgorithm(a)):
			plain = append(plain, a)
		default:
			rest = append(rest, a)
		}
	}
	return append(append(certs, plain...), rest...)
}

const certAlgorithmSuffix = "-cert-v01@openssh.com"

// keyTypeOfAlgorithm maps a host key signature algorithm to the key type
// known_hosts records: RSA keys sign with rsa-sha2-512, rsa-sha2-256 or
// ssh-rsa (RFC 8332) but are recorded as ssh-rsa; every other algorithm is
// named like its key type.
func keyTypeOfAlgorithm(alg string) string {
	switch alg {
	case ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSASHA512:
		return ssh.KeyAlgoRSA
	case ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSASHA512v01:
		return ssh.CertAlgoRSAv01
	}
	return alg
}
