package ssh

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
	// CertificateFile, IdentityAgent, IdentityFile, LocalForward and
	// RemoteForward socket paths, UserKnownHostsFile.
	pathTokens = "CdhijkLlnpru"
	// Match exec: the path tokens without %j.
	execTokens = "CdhikLlnpru"
	// HostName.
	hostnameTokens = "h"
	// ProxyCommand, and the hosts of ProxyJump.
	proxyTokens = "hknpr"
)

// shellTokens are the tokens whose values come from the host name or user
// the application (or a command line) gave, and so are checked before they
// are pasted into a shell command (CVE-2023-51385).
const shellTokens = "hknr"

// tokenValues holds what each %-token expands to.
type tokenValues map[byte]string

// localInfo is what the tokens say about the local side. It is looked up once
// per resolution.
type localInfo struct {
	user     string // %u
	uid      string // %i
	home     string // %d
	hostname string // %l; %L is its first label
}

func currentLocalInfo() localInfo {
	li := localInfo{user: localUser(), uid: strconv.Itoa(os.Getuid()), home: homeDir()}
	if h, err := os.Hostname(); err == nil {
		li.hostname = h
	}
	return li
}

// connectionTokens builds the token values of a resolved destination, as
// OpenSSH 9.2's ssh.c does for its connection info: %h is the final host
// name, %n the name as given, %k the HostKeyAlias or the name as given, and
// %C the SHA-1 of %l%h%p%r.
func connectionTokens(li localInfo, host, origHost string, port int, ruser, keyAlias, jump string) tokenValues {
	p := strconv.Itoa(port)
	sum := sha1.Sum([]byte(li.hostname + host + p + ruser))
	if keyAlias == "" {
		keyAlias = origHost
	}
	short, _, _ := strings.Cut(li.hostname, ".")
	return tokenValues{
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
func expandTokens(s string, vals tokenValues, allowed string, dollar, shell bool) (string, error) {
	if !strings.ContainsAny(s, "%$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case dollar && c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ in %q", s)
			}
			name := s[i+2 : i+2+end]
			if !validEnvName(name) {
				return "", fmt.Errorf("invalid environment variable name %q", name)
			}
			v, ok := os.LookupEnv(name)
			if !ok {
				return "", fmt.Errorf("environment variable ${%s} has no value", name)
			}
			b.WriteString(v)
			i += 2 + end
		case c == '%':
			if i+1 >= len(s) {
				return "", fmt.Errorf("%q ends with a lone %%", s)
			}
			i++
			t := s[i]
			if t == '%' {
				b.WriteByte('%')
				continue
			}
			v, ok := vals[t]
			if !ok || !strings.ContainsRune(allowed, rune(t)) {
				return "", fmt.Errorf("unknown token %%%c in %q", t, s)
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
		return fmt.Errorf("%w: %q starts with '-'", errUnsafeName, v)
	}
	for _, r := range v {
		if strings.ContainsRune("'`\"$\\;&<>|(){}", r) || r <= ' ' || r == 0x7f {
			return fmt.Errorf("%w: %q contains %q", errUnsafeName, v, r)
		}
	}
	return nil
}

var errUnsafeName = fmt.Errorf("%w: shell metacharacters in a host or user name", ErrInvalidOption)

// expandTilde expands a leading "~" or "~user" the way OpenSSH's
// tilde_expand_filename does. Other paths are returned unchanged.
func expandTilde(p string) (string, error) {
	if !strings.HasPrefix(p, "~") {
		return p, nil
	}
	name, rest, _ := strings.Cut(p[1:], "/")
	var home string
	if name == "" {
		home = homeDir()
	} else {
		u, err := user.Lookup(name)
		if err != nil {
			return "", fmt.Errorf("%s: unknown user %q", p, name)
		}
		home = u.HomeDir
	}
	if rest == "" && !strings.Contains(p, "/") {
		return home, nil
	}
	if strings.HasSuffix(home, "/") {
		return home + rest, nil
	}
	return home + "/" + rest, nil
}

// expandPath is what OpenSSH does to IdentityFile, CertificateFile,
// UserKnownHostsFile and IdentityAgent: tilde first, then %-tokens and
// ${ENV}.
func expandPath(p string, vals tokenValues) (string, error) {
	t, err := expandTilde(p)
	if err != nil {
		return "", err
	}
	return expandTokens(t, vals, pathTokens, true, false)
}
