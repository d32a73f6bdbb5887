package sshconfig

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// Token sets, as ssh_config(5) TOKENS lists them for OpenSSH 9.4+ (9.2,
// the oracle the tests run against, lacks %j).
const (
	// TokensPath are the tokens of CertificateFile, ControlPath,
	// IdentityAgent, IdentityFile, LocalForward and RemoteForward socket
	// paths, RemoteCommand and UserKnownHostsFile.
	TokensPath = "CdhijkLlnpru"
	// TokensExec are the tokens of Match exec: TokensPath without %j.
	TokensExec = "CdhikLlnpru"
	// TokensHostname are the tokens of HostName.
	TokensHostname = "h"
	// TokensProxyCommand are the tokens of ProxyCommand.
	TokensProxyCommand = "hknpr"
	// TokensProxyJump are the tokens of ProxyJump.
	TokensProxyJump = "hnpr"
)

// shellTokens are the tokens whose values come from the host name or user
// the application (or a command line) gave, and so are checked before they
// are pasted into a shell command (CVE-2023-51385).
const shellTokens = "hknr"

// Tokens holds what each %-token expands to: 'h' the host name, 'p' the
// port, 'r' the remote user, and so on (ssh_config(5) TOKENS). A nil
// Tokens has no values: only %% expands.
type Tokens map[byte]string

// Expand replaces the %-tokens of s that allowed lists, and %%, in one pass
// as OpenSSH's percent_expand does: a value is never expanded again. An
// unknown or disallowed token and a lone '%' at the end are errors
// matching ErrInvalid.
func (t Tokens) Expand(s, allowed string) (string, error) {
	return expandTokens(s, t, allowed, false, false)
}

// ExpandShell is Expand for a shell command line (ProxyCommand, Match
// exec): the values of %h, %k, %n and %r must also be safe to paste into
// it, or the error matches ErrUnsafeName.
func (t Tokens) ExpandShell(s, allowed string) (string, error) {
	return expandTokens(s, t, allowed, false, true)
}

// ExpandPath is what OpenSSH does to IdentityFile, CertificateFile and
// UserKnownHostsFile when it uses them: a leading "~" or "~user" first
// (the home directory of "~" is the %d value), then the TokensPath tokens
// and ${ENV} references. An unset variable is an error.
func (t Tokens) ExpandPath(p string) (string, error) {
	x, err := expandTilde(p, t['d'])
	if err != nil {
		return "", err
	}
	return expandTokens(x, t, TokensPath, true, false)
}

// localInfo is what the tokens say about the local side.
type localInfo struct {
	user     string // %u
	uid      string // %i
	home     string // %d
	hostname string // %l; %L is its first label
}

// connectionTokens builds the token values of a resolved destination, as
// OpenSSH 9.2's ssh.c does for its connection info: %h is the final host
// name, %n the name as given, %k the HostKeyAlias or the name as given, and
// %C the SHA-1 of %l%h%p%r.
func connectionTokens(li localInfo, host, origHost string, port int, ruser, keyAlias, jump string) Tokens {
	p := strconv.Itoa(port)
	sum := sha1.Sum([]byte(li.hostname + host + p + ruser))
	if keyAlias == "" {
		keyAlias = origHost
	}
	short, _, _ := strings.Cut(li.hostname, ".")
	return Tokens{
		'C': hex.EncodeToString(sum[:]),
		'd': li.home,
		'h': host,
		'i': li.uid,
		'j': jump,
		'k': keyAlias,
		'L': short,
		'l': li.hostname,
		'n': origHost,
		'p': p,
		'r': ruser,
		'u': li.user,
	}
}

// expandTokens replaces %-tokens (those in allowed, and %%) and, when dollar
// is set, ${NAME} environment references, in one pass as OpenSSH's
// percent_dollar_expand does: a value is never expanded again. An unknown
// token, a lone '%' at the end, an unterminated or invalid ${...} and an
// unset variable are errors, as in OpenSSH. When shell is set, the values of
// the shellTokens must be safe to paste into a shell command line.
func expandTokens(s string, vals Tokens, allowed string, dollar, shell bool) (string, error) {
	if !strings.ContainsAny(s, "%$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case dollar && c == '$' && i+1 < len(s) && s[i+1] == '{':
			v, n, err := dollarAt(s, i)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i += n - 1
		case c == '%' && allowed == envOnly:
			b.WriteByte(c)
		case c == '%':
			if i+1 >= len(s) {
				return "", invalidf("%q ends with a lone %%", s)
			}
			i++
			t := s[i]
			if t == '%' {
				b.WriteByte('%')
				continue
			}
			v, ok := vals[t]
			if !ok || !strings.ContainsRune(allowed, rune(t)) {
				return "", invalidf("unknown token %%%c in %q", t, s)
			}
			if shell && strings.IndexByte(shellTokens, t) >= 0 {
				if err := shellSafe(v); err != nil {
					return "", fmt.Errorf("%%%c: %w", t, err)
				}
			}
			b.WriteString(v)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// envOnly as the allowed tokens of expandTokens leaves '%' alone: only
// ${ENV} is expanded, as OpenSSH's dollar_expand.
const envOnly = "\x00"

// dollarAt expands the ${NAME} at s[i:], returning its value and length.
func dollarAt(s string, i int) (string, int, error) {
	end := strings.IndexByte(s[i+2:], '}')
	if end < 0 {
		return "", 0, invalidf("unterminated ${ in %q", s)
	}
	name := s[i+2 : i+2+end]
	if !validEnvName(name) {
		return "", 0, invalidf("invalid environment variable name %q", name)
	}
	v, ok := os.LookupEnv(name)
	if !ok {
		return "", 0, invalidf("environment variable ${%s} has no value", name)
	}
	return v, end + 3, nil
}

func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// shellSafe refuses values that would change the meaning of a shell command
// they are pasted into: OpenSSH 9.6's valid_hostname and valid_ruser rules
// (CVE-2023-51385), applied to host names and users alike.
func shellSafe(v string) error {
	if strings.HasPrefix(v, "-") {
		return fmt.Errorf("%w: %q starts with '-'", ErrUnsafeName, v)
	}
	for _, r := range v {
		if strings.ContainsRune("'`\"$\\;&<>|(){}", r) || r <= ' ' || r == 0x7f {
			return fmt.Errorf("%w: %q contains %q", ErrUnsafeName, v, r)
		}
	}
	return nil
}

// expandTilde expands a leading "~" (to home) or "~user" the way OpenSSH's
// tilde_expand_filename does. Other paths are returned unchanged.
func expandTilde(p, home string) (string, error) {
	if !strings.HasPrefix(p, "~") {
		return p, nil
	}
	name, rest, _ := strings.Cut(p[1:], "/")
	if name != "" {
		u, err := user.Lookup(name)
		if err != nil {
			return "", invalidf("%s: unknown user %q", p, name)
		}
		home = u.HomeDir
	}
	if rest == "" && !strings.Contains(p, "/") {
		rest = "" // "~" is the home directory with a '/', as OpenSSH writes it
	}
	if strings.HasSuffix(home, "/") {
		return home + rest, nil
	}
	return home + "/" + rest, nil
}
