package knownhosts

import (
	"net"
	"strconv"

	"golang.org/x/crypto/ssh"
)

// HostKeyCallback loads the known_hosts files at paths, as Load does, and
// returns db.HostKeyCallback() for them: a callback for
// golang.org/x/crypto/ssh's ClientConfig.HostKeyCallback. The files are
// read once, now. The error is Load's.
func HostKeyCallback(paths ...string) (ssh.HostKeyCallback, error) {
	db, err := Load(paths...)
	if err != nil {
		return nil, err
	}
	return db.HostKeyCallback(), nil
}

// HostKeyCallback returns a callback for golang.org/x/crypto/ssh's
// ClientConfig.HostKeyCallback that accepts a key only when Lookup says OK
// for the host and port of the address x/crypto passes (the one given to
// ssh.Dial; "host" without a port means 22). The server's IP address is
// not looked up separately, as with OpenSSH's default CheckHostIP=no.
//
// Every other outcome is refused (fail closed) with a *KeyError, whose
// State says why and whose Err wraps ErrKeyUnknown (Unknown, NotFound,
// Other), ErrKeyChanged (Changed), ErrRevoked or ErrCertificateInvalid.
// Pair it with ClientConfig.HostKeyAlgorithms = db.HostKeyAlgorithms(...)
// so the server presents a key type the files hold. The callback is safe
// for concurrent use and does not block.
func (db *DB) HostKeyCallback() ssh.HostKeyCallback {
	return func(hostname string, _ net.Addr, key ssh.PublicKey) error {
		host, port := splitAddress(hostname)
		name := HostName(host, port)
		res, err := db.Check(Query{Name: name, Principal: host}, key)
		if err == nil && res.State == OK {
			return nil
		}
		ke := &KeyError{Host: name, State: res.State, Key: key, Entry: res.Entry, Err: err}
		if res.State == OK { // cannot happen with an error, but never accept one
			ke.State = Changed
		}
		if ke.Err == nil {
			ke.Err = ErrKeyUnknown
			if res.State == Changed {
				ke.Err = ErrKeyChanged
			}
		}
		entries, _ := db.matching(name)
		for _, e := range entries {
			if e.Marker == MarkerNone {
				ke.Want = append(ke.Want, e)
			}
		}
		return ke
	}
}

// splitAddress splits "host:port" or "[host]:port"; anything else is a
// host on port 22.
func splitAddress(addr string) (string, int) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 22
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return addr, 22
	}
	return host, port
}
