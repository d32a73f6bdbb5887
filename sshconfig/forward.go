package sshconfig

import (
	"fmt"
	"strconv"
	"strings"
)

// Forward is one LocalForward, RemoteForward or DynamicForward: where to
// listen and, except for dynamic (SOCKS) forwards, where to connect. Each
// side is either a TCP host and port or a Unix socket path. The zero value
// is not a valid forward.
type Forward struct {
	ListenHost  string // "" = the default bind address; "*" = all addresses
	ListenPort  int    // 0 when ListenPath is set (and for a remote forward the server picks)
	ListenPath  string // a Unix socket to listen on instead of a port
	ConnectHost string // "" for dynamic forwards and Unix sockets
	ConnectPort int
	ConnectPath string // a Unix socket to connect to instead of a host and port
}

// String prints the forward as `ssh -G` does after the keyword:
// "[listenhost]:port [connecthost]:port", a bare port when there is no
// host, a socket path as it is; dynamic forwards have no destination.
func (f Forward) String() string {
	side := func(host string, port int, path string) string {
		switch {
		case path != "":
			return path
		case host == "":
			return strconv.Itoa(port)
		}
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	s := side(f.ListenHost, f.ListenPort, f.ListenPath)
	if f.ConnectHost != "" || f.ConnectPath != "" {
		s += " " + side(f.ConnectHost, f.ConnectPort, f.ConnectPath)
	}
	return s
}

// ParseForward parses a forwarding specification as OpenSSH's parse_forward:
// up to four colon-separated fields ([listen_host:]port[:host:hostport]),
// fields in [brackets] taken literally (IPv6), a field with a '/' a Unix
// socket path, and ${ENV} expanded first. Dynamic forwards have one or two
// fields; others need a destination. Only remote forwards may listen on
// port 0. Errors match ErrInvalid.
func ParseForward(spec string, dynamic, remote bool) (Forward, error) {
	bad := invalidf("bad forwarding specification %q", spec)
	expanded, err := expandTokens(spec, nil, envOnly, true, false)
	if err != nil {
		return Forward{}, fmt.Errorf("%w: %w", bad, err)
	}
	type field struct {
		arg    string
		isPath bool
	}
	var fields []field
	rest := strings.TrimLeft(expanded, " \t")
	for len(rest) > 0 && len(fields) < 4 {
		var f field
		if rest[0] == '[' {
			end := strings.IndexByte(rest, ']')
			if end < 0 || end+1 < len(rest) && rest[end+1] != ':' {
				return Forward{}, bad
			}
			f.arg = rest[1:end]
			f.isPath = strings.Contains(f.arg, "/")
			rest = rest[end+1:]
			rest = strings.TrimPrefix(rest, ":")
		} else {
			var b strings.Builder
			i := 0
			for ; i < len(rest) && rest[i] != ':'; i++ {
				c := rest[i]
				if c == '\\' {
					i++
					if i == len(rest) {
						return Forward{}, bad
					}
					c = rest[i]
				}
				if c == '/' {
					f.isPath = true
				}
				b.WriteByte(c)
			}
			f.arg = b.String()
			rest = rest[i:]
			rest = strings.TrimPrefix(rest, ":")
		}
		fields = append(fields, f)
	}
	if rest != "" {
		return Forward{}, bad
	}
	port := func(s string) int {
		n, err := ParsePort(s)
		if err != nil {
			if s == "0" {
				return 0
			}
			return -1
		}
		return n
	}
	var fw Forward
	socks := false
	switch len(fields) {
	case 1:
		if fields[0].isPath {
			fw.ListenPath = fields[0].arg
		} else {
			fw.ListenPort = port(fields[0].arg)
		}
		socks = true
	case 2:
		switch {
		case fields[0].isPath && fields[1].isPath:
			fw.ListenPath, fw.ConnectPath = fields[0].arg, fields[1].arg
		case fields[1].isPath:
			fw.ListenPort, fw.ConnectPath = port(fields[0].arg), fields[1].arg
		default:
			fw.ListenHost, fw.ListenPort = fields[0].arg, port(fields[1].arg)
			socks = true
		}
	case 3:
		switch {
		case fields[0].isPath:
			fw.ListenPath, fw.ConnectHost, fw.ConnectPort = fields[0].arg, fields[1].arg, port(fields[2].arg)
		case fields[2].isPath:
			fw.ListenHost, fw.ListenPort, fw.ConnectPath = fields[0].arg, port(fields[1].arg), fields[2].arg
		default:
			fw.ListenPort, fw.ConnectHost, fw.ConnectPort = port(fields[0].arg), fields[1].arg, port(fields[2].arg)
		}
	case 4:
		fw.ListenHost, fw.ListenPort = fields[0].arg, port(fields[1].arg)
		fw.ConnectHost, fw.ConnectPort = fields[2].arg, port(fields[3].arg)
	default:
		return Forward{}, bad
	}
	if dynamic {
		if !socks {
			return Forward{}, bad
		}
	} else if socks || fw.ConnectPath == "" && fw.ConnectPort <= 0 {
		return Forward{}, bad
	}
	if fw.ListenPath == "" && (fw.ListenPort < 0 || !remote && fw.ListenPort == 0) {
		return Forward{}, bad
	}
	if fw.ConnectHost == "" && fw.ConnectPath == "" && !socks || fw.ConnectPort < 0 {
		return Forward{}, bad
	}
	return fw, nil
}
