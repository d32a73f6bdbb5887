package ssh

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// The payloads of the channels a server opens towards the client, and the
// reply to a tcpip-forward request, are parsed by the library. Whatever the
// bytes, a parser accepts exactly the well-formed payloads with ports in
// range, keeps nothing the payload did not hold, and what it read marshals
// back to the payload. Each check reads the payload by hand, without
// gossh.Unmarshal, so the two readings are independent.

// wireString reads one RFC 4251 string without parseSSHString.
func wireString(b []byte) (string, []byte, bool) {
	if len(b) < 4 || uint64(binary.BigEndian.Uint32(b)) > uint64(len(b)-4) {
		return "", nil, false
	}
	n := binary.BigEndian.Uint32(b)
	return string(b[4 : 4+n]), b[4+n:], true
}

// wireUint32 reads one RFC 4251 uint32.
func wireUint32(b []byte) (uint32, []byte, bool) {
	if len(b) < 4 {
		return 0, nil, false
	}
	return binary.BigEndian.Uint32(b), b[4:], true
}

// addrHasPort: the net.Addr a forwarded connection reports for host and
// port names that port, whatever host the server made up.
func addrHasPort(t *testing.T, host string, port int) {
	t.Helper()
	a := hostPortAddr("tcp", host, port)
	if s := a.String(); !strings.HasSuffix(s, ":"+strconv.Itoa(port)) || a.Network() != "tcp" {
		t.Fatalf("hostPortAddr(%q, %d) = %s %q", host, port, a.Network(), s)
	}
}

// FuzzForwardedTCPIP: a forwarded-tcpip open (RFC 4254 §7.2) is two
// addresses and two ports, nothing more; a port above 65535 is refused.
func FuzzForwardedTCPIP(f *testing.F) {
	type msg struct {
		Addr     string
		Port     uint32
		OrigAddr string
		OrigPort uint32
	}
	for _, m := range []msg{
		{"127.0.0.1", 8080, "10.0.0.7", 51234},
		{"", 0, "", 0},            // AsyncSSH reports port 0 for a port-0 listener
		{"::", 65535, "::1", 1},   // the highest port
		{"0.0.0.0", 65536, "", 1}, // one too many
		{"localhost", 22, "x", 1 << 31},
		{"a\x00b", 1, "[::1]:2", 3}, // a NUL and a bracketed name: kept as sent
	} {
		f.Add(gossh.Marshal(m))
	}
	f.Add(append(gossh.Marshal(msg{"h", 1, "o", 2}), 0)) // a byte too many
	f.Add(gossh.Marshal(msg{"h", 1, "o", 2})[:15])       // cut short
	f.Fuzz(func(t *testing.T, payload []byte) {
		p, ok := parseForwardedTCPIP(payload)
		addr, rest, want := wireString(payload)
		port, rest, want2 := wireUint32(rest)
		orig, rest, want3 := wireString(rest)
		origPort, rest, want4 := wireUint32(rest)
		want = want && want2 && want3 && want4 && len(rest) == 0 && port <= 65535 && origPort <= 65535
		if ok != want {
			t.Fatalf("parseForwardedTCPIP(%x): ok = %v, want %v", payload, ok, want)
		}
		if !ok {
			if p != (pendingOpen{}) {
				t.Fatalf("refused %x but returned %+v", payload, p)
			}
			return
		}
		if p.connHost != addr || p.connPort != int(port) || p.origHost != orig || p.origPort != int(origPort) || p.unix || p.path != "" {
			t.Fatalf("parsed %x as %+v", payload, p)
		}
		if p.connPort < 0 || p.connPort > 65535 || p.origPort < 0 || p.origPort > 65535 {
			t.Fatalf("port out of range: %+v", p)
		}
		back := gossh.Marshal(msg{p.connHost, uint32(p.connPort), p.origHost, uint32(p.origPort)})
		if !bytes.Equal(back, payload) {
			t.Fatalf("%+v marshals to %x, not %x", p, back, payload)
		}
		addrHasPort(t, p.connHost, p.connPort)
		addrHasPort(t, p.origHost, p.origPort)
	})
}

// FuzzForwardedUnix: a forwarded-streamlocal@openssh.com open (OpenSSH
// PROTOCOL §2.4) starts with the socket path; only the path is read.
func FuzzForwardedUnix(f *testing.F) {
	type msg struct{ Path, Reserved string }
	for _, m := range []msg{{"/tmp/sock", ""}, {"", ""}, {"/run/user/1000/x\x00y", "reserved"}} {
		f.Add(gossh.Marshal(m))
	}
	f.Add(gossh.Marshal(struct{ Path string }{"/tmp/no-reserved"}))
	f.Add([]byte{0, 0, 1, 0, '/'})
	f.Fuzz(func(t *testing.T, payload []byte) {
		p, ok := parseForwardedUnix(payload)
		path, rest, want := wireString(payload)
		if ok != want {
			t.Fatalf("parseForwardedUnix(%x): ok = %v, want %v", payload, ok, want)
		}
		if !ok {
			if p != (pendingOpen{}) {
				t.Fatalf("refused %x but returned %+v", payload, p)
			}
			return
		}
		if !p.unix || p.path != path || p.connHost != "" || p.connPort != 0 || p.origHost != "" || p.origPort != 0 {
			t.Fatalf("parsed %x as %+v", payload, p)
		}
		if back := append(gossh.Marshal(struct{ Path string }{p.path}), rest...); !bytes.Equal(back, payload) {
			t.Fatalf("path %q and the rest marshal to %x, not %x", p.path, back, payload)
		}
	})
}

// FuzzX11Open: an x11 open (RFC 4254 §6.3.2) is the originator's address
// and port, nothing more; a port above 65535 is refused.
func FuzzX11Open(f *testing.F) {
	type msg struct {
		OrigAddr string
		OrigPort uint32
	}
	for _, m := range []msg{{"127.0.0.1", 40000}, {"", 0}, {"::1", 65535}, {"h", 65536}, {"h", 1<<32 - 1}} {
		f.Add(gossh.Marshal(m))
	}
	f.Add(append(gossh.Marshal(msg{"h", 1}), 'x'))
	f.Add([]byte{0, 0, 0, 1, 'h', 0, 0})
	f.Fuzz(func(t *testing.T, payload []byte) {
		p, ok := parseX11Open(payload)
		orig, rest, want := wireString(payload)
		origPort, rest, want2 := wireUint32(rest)
		want = want && want2 && len(rest) == 0 && origPort <= 65535
		if ok != want {
			t.Fatalf("parseX11Open(%x): ok = %v, want %v", payload, ok, want)
		}
		if !ok {
			if p != (pendingOpen{}) {
				t.Fatalf("refused %x but returned %+v", payload, p)
			}
			return
		}
		if p.origHost != orig || p.origPort != int(origPort) || p.unix || p.connHost != "" || p.connPort != 0 {
			t.Fatalf("parsed %x as %+v", payload, p)
		}
		if back := gossh.Marshal(msg{p.origHost, uint32(p.origPort)}); !bytes.Equal(back, payload) {
			t.Fatalf("%+v marshals to %x, not %x", p, back, payload)
		}
		addrHasPort(t, p.origHost, p.origPort)
	})
}

// FuzzForwardReplyPort: the reply to tcpip-forward for port 0 (RFC 4254
// §7.1) is the bound port, a uint32 and nothing more; 0 and anything above
// 65535 are not usable ports. A refused reply still reports the number it
// held, for the cancel-tcpip-forward that undoes the binding.
func FuzzForwardReplyPort(f *testing.F) {
	for _, port := range []uint32{1, 22, 40000, 65535, 0, 65536, 1<<32 - 1} {
		f.Add(gossh.Marshal(struct{ Port uint32 }{port}))
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0x9c})
	f.Add([]byte{0, 0, 0x9c, 0x40, 0})
	f.Fuzz(func(t *testing.T, reply []byte) {
		port, ok := parseBoundPort(reply)
		n, rest, want := wireUint32(reply)
		want = want && len(rest) == 0 && n >= 1 && n <= 65535
		if ok != want {
			t.Fatalf("parseBoundPort(%x) = %d, %v; want ok %v", reply, port, ok, want)
		}
		if ok && (port != n || !bytes.Equal(gossh.Marshal(struct{ Port uint32 }{port}), reply)) {
			t.Fatalf("parseBoundPort(%x) = %d", reply, port)
		}
		if !ok && len(reply) == 4 && port != n {
			t.Fatalf("refused %x but reports port %d for the cancel", reply, port)
		}
	})
}
