package sshconfig

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// algorithms is one algorithm keyword's lists in OpenSSH 9.2: the default
// and every name it implements (in its order, which a pattern expands in).
type algorithms struct {
	def, all string
	// wildcard: patterns may be given (key types); otherwise each name must
	// be one OpenSSH implements.
	wildcard bool
	// plain: no "+", "-" or "^" (Debian's GSSAPIKexAlgorithms).
	plain bool
	// alsoValid are names accepted in a list but not part of all (Debian
	// takes GSSAPI key exchanges in KexAlgorithms, then drops them).
	alsoValid string
}

// errNoAlgorithm is assemble's answer when a list keeps nothing: OpenSSH
// then prints no line for the keyword.
var errNoAlgorithm = errors.New("no algorithm left")

const keyAlgs = "ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,sk-ssh-ed25519@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com," +
	"ecdsa-sha2-nistp256,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384,ecdsa-sha2-nistp384-cert-v01@openssh.com," +
	"ecdsa-sha2-nistp521,ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com," +
	"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,webauthn-sk-ecdsa-sha2-nistp256@openssh.com,ssh-dss,ssh-dss-cert-v01@openssh.com," +
	"ssh-rsa,ssh-rsa-cert-v01@openssh.com,rsa-sha2-256,rsa-sha2-256-cert-v01@openssh.com,rsa-sha2-512,rsa-sha2-512-cert-v01@openssh.com"

const defKeyAlgs = "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com," +
	"ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com," +
	"rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384," +
	"ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256"

var (
	algCiphers = algorithms{
		def: "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
		all: "3des-cbc,aes128-cbc,aes192-cbc,aes256-cbc,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com," +
			"aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
	}
	algMACs = algorithms{
		def: "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com," +
			"hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1",
		all: "hmac-sha1,hmac-sha1-96,hmac-sha2-256,hmac-sha2-512,hmac-md5,hmac-md5-96,umac-64@openssh.com,umac-128@openssh.com," +
			"hmac-sha1-etm@openssh.com,hmac-sha1-96-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com," +
			"hmac-md5-etm@openssh.com,hmac-md5-96-etm@openssh.com,umac-64-etm@openssh.com,umac-128-etm@openssh.com",
	}
	algKex = algorithms{
		def: "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org," +
			"ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256," +
			"diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256",
		all: "diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group14-sha256,diffie-hellman-group16-sha512," +
			"diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha1,diffie-hellman-group-exchange-sha256," +
			"ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,curve25519-sha256,curve25519-sha256@libssh.org," +
			"sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com",
		alsoValid: "gss-gex-sha1-,gss-group1-sha1-,gss-group14-sha1-,gss-group14-sha256-,gss-group16-sha512-,gss-nistp256-sha256-,gss-curve25519-sha256-",
	}
	algHostKey   = algorithms{def: defKeyAlgs, all: keyAlgs, wildcard: true}
	algPubkey    = algorithms{def: defKeyAlgs, all: keyAlgs, wildcard: true}
	algHostbased = algorithms{def: defKeyAlgs, all: keyAlgs, wildcard: true}
	algCASig     = algorithms{
		def: "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com," +
			"sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256",
		all: "ssh-ed25519,sk-ssh-ed25519@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521," +
			"sk-ecdsa-sha2-nistp256@openssh.com,webauthn-sk-ecdsa-sha2-nistp256@openssh.com,ssh-dss,ssh-rsa,rsa-sha2-256,rsa-sha2-512",
		wildcard: true,
	}
	// Debian's GSSAPI key exchange patch; its list is kept as written.
	algGSSKex = algorithms{
		def:   "gss-group14-sha256-,gss-group16-sha512-,gss-nistp256-sha256-,gss-curve25519-sha256-,gss-group14-sha1-,gss-gex-sha1-",
		all:   "gss-gex-sha1-,gss-group1-sha1-,gss-group14-sha1-,gss-group14-sha256-,gss-group16-sha512-,gss-nistp256-sha256-,gss-curve25519-sha256-",
		plain: true,
	}
)

// valid checks a spec as readconf.c does when it reads the line: a "-"
// list is not checked; otherwise every name must be implemented (key
// types may be patterns that match one).
func (a *algorithms) valid(spec string) error {
	if strings.HasPrefix(spec, "-") && !a.plain {
		return nil
	}
	list := spec
	if !a.plain {
		list = strings.TrimLeft(spec[:min(1, len(spec))], "+^") + spec[min(1, len(spec)):]
	}
	all := strings.Split(a.all, ",")
	for _, n := range strings.Split(list, ",") {
		if n == "" {
			return errors.New("empty name")
		}
		if slices.Contains(all, n) || a.alsoValid != "" && slices.Contains(strings.Split(a.alsoValid, ","), n) {
			continue
		}
		if a.wildcard && slices.ContainsFunc(all, func(k string) bool { return matchPatternList(k, n, false) != 0 }) {
			continue
		}
		return fmt.Errorf("%q is not implemented by OpenSSH", n)
	}
	return nil
}

// assemble is OpenSSH's kex_assemble_names: "" is the default, "+" appends
// to it, "-" removes what matches from it, "^" puts names first, and the
// patterns of a list expand to the implemented names they match.
func (a *algorithms) assemble(spec string) (string, error) {
	def := strings.Split(a.def, ",")
	var list []string
	switch {
	case spec == "":
		return a.def, nil
	case a.plain:
		list = strings.Split(spec, ",")
	case spec[0] == '-':
		out := slices.DeleteFunc(def, func(n string) bool { return matchPatternList(n, spec[1:], false) == 1 })
		return strings.Join(out, ","), nil
	case spec[0] == '+':
		list = cat(def, strings.Split(spec[1:], ","))
	case spec[0] == '^':
		list = cat(strings.Split(spec[1:], ","), def)
	default:
		list = strings.Split(spec, ",")
	}
	var out []string
	for _, pat := range list {
		if strings.HasPrefix(pat, "!") {
			return "", fmt.Errorf("negated name %q in %q", pat, spec)
		}
		var matching []string
		for _, n := range strings.Split(a.all, ",") {
			if matchPatternList(n, pat, false) == 1 {
				matching = append(matching, n)
			}
		}
		out = cat(out, matching)
	}
	if len(out) == 0 {
		return "", errNoAlgorithm
	}
	return strings.Join(out, ","), nil
}

// cat is kex_names_cat: a, then what b adds.
func cat(a, b []string) []string {
	out := slices.Clone(a)
	for _, n := range b {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
