package sshconfig

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxJumpHops bounds one ProxyJump list.
const maxJumpHops = 32

// JumpHost is one element of a ProxyJump list. The zero value is not a
// valid hop.
type JumpHost struct {
	User string // "" = from the hop's own configuration
	Host string
	Port int // 0 = from the hop's own configuration
}

// String prints the hop as "[user@]host[:port]", the host in brackets when
// it is an IPv6 address or looks numeric, as `ssh -G` does.
func (j JumpHost) String() string {
	s := j.Host
	if strings.Contains(s, ":") || strings.Trim(s, "0123456789.") == "" {
		s = "[" + s + "]"
	}
	if j.User != "" {
		s = j.User + "@" + s
	}
	if j.Port > 0 {
		s += ":" + strconv.Itoa(j.Port)
	}
	return s
}

// ParseProxyJump parses a ProxyJump value: comma-separated
// "[user@]host[:port]" or "ssh://[user@]host[:port]" elements, IPv6
// addresses in brackets, as OpenSSH's parse_jump. An empty element, an
// empty user or host, a bad port, a bare IPv6 address, white space or
// control characters, or more than 32 hops is an error. "none" is not a
// hop list; callers check for it first.
func ParseProxyJump(spec string) ([]JumpHost, error) {
	if spec == "" {
		return nil, errors.New("empty ProxyJump")
	}
	var hops []JumpHost
	for _, e := range strings.Split(spec, ",") {
		j, err := parseJumpHost(e)
		if err != nil {
			return nil, err
		}
		hops = append(hops, j)
	}
	if len(hops) > maxJumpHops {
		return nil, fmt.Errorf("more than %d jump hosts", maxJumpHops)
	}
	return hops, nil
}

func parseJumpHost(s string) (JumpHost, error) {
	bad := func(why string) (JumpHost, error) { return JumpHost{}, fmt.Errorf("jump host %q: %s", s, why) }
	rest := s
	if strings.HasPrefix(strings.ToLower(s), "ssh://") {
		rest = s[len("ssh://"):]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			if rest[i:] != "/" {
				return bad("a path is not allowed")
			}
			rest = rest[:i]
		}
	}
	var j JumpHost
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		j.User, rest = rest[:at], rest[at+1:]
		if j.User == "" {
			return bad("empty user")
		}
	}
	port := ""
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return bad("unterminated [")
		}
		j.Host, rest = rest[1:end], rest[end+1:]
		if rest != "" && !strings.HasPrefix(rest, ":") {
			return bad("junk after ]")
		}
		port = strings.TrimPrefix(rest, ":")
	} else if i := strings.IndexAny(rest, ":/"); i >= 0 {
		// OpenSSH's hpdelim: "host:port" or "host/port".
		j.Host, port = rest[:i], rest[i+1:]
	} else {
		j.Host = rest
	}
	if j.Host == "" {
		return bad("empty host")
	}
	if port != "" {
		p, err := ParsePort(port)
		if err != nil {
			return bad(err.Error())
		}
		j.Port = p
	}
	if strings.ContainsFunc(j.Host+j.User, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return bad("white space or control characters")
	}
	return j, nil
}

// FormatProxyJump prints a ProxyJump value as `ssh -G` does: the hops
// before the last as written, the last one rebuilt. A value that does not
// parse is returned as it is.
func FormatProxyJump(spec string) string {
	hops, err := ParseProxyJump(spec)
	if err != nil {
		return spec
	}
	last := hops[len(hops)-1].String()
	if i := strings.LastIndexByte(spec, ','); i >= 0 {
		return spec[:i] + "," + last
	}
	return last
}
