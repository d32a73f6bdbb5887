package ssh

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	gossh "golang.org/x/crypto/ssh"
)

// A minimal SOCKS server for DynamicForward: CONNECT only, no
// authentication, SOCKS4 (openssh.com/txt/socks4.protocol), SOCKS4a
// (socks4a.protocol) and SOCKS5 (RFC 1928), as OpenSSH's `ssh -D` speaks.
// The maintained Go SOCKS packages (things-go/go-socks5 and its ancestor
// armon/go-socks5) speak SOCKS5 only, and a dependency for ~150 lines is
// not worth it.

// SOCKS5 reply codes (RFC 1928 §6).
const (
	socks5Succeeded          = 0x00
	socks5GeneralFailure     = 0x01
	socks5NotAllowed         = 0x02
	socks5HostUnreachable    = 0x04
	socks5ConnectionRefused  = 0x05
	socks5CommandUnsupported = 0x07
	socks5AddrUnsupported    = 0x08
)

// maxSOCKSName bounds the user id and host name fields read from a client.
const maxSOCKSName = 255

var errSOCKS = errors.New("ssh: bad SOCKS request")

// socksConnect reads a SOCKS CONNECT request from c, dials its target with
// dial, sends the reply and returns the dialled connection. c must carry a
// deadline covering the handshake; the caller clears it.
func socksConnect(ctx context.Context, c net.Conn, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (net.Conn, error) {
	var ver [1]byte
	if _, err := io.ReadFull(c, ver[:]); err != nil {
		return nil, err
	}
	switch ver[0] {
	case 4:
		return socks4(ctx, c, dial)
	case 5:
		return socks5(ctx, c, dial)
	}
	return nil, fmt.Errorf("%w: version %d", errSOCKS, ver[0])
}

// socks4 serves SOCKS4 and SOCKS4a: CD, DSTPORT, DSTIP, USERID, NUL, and
// for 4a (DSTIP 0.0.0.x, x != 0) the host name, NUL.
func socks4(ctx context.Context, c net.Conn, dial func(context.Context, string, string) (net.Conn, error)) (net.Conn, error) {
	var req [7]byte
	if _, err := io.ReadFull(c, req[:]); err != nil {
		return nil, err
	}
	if _, err := readCString(c); err != nil { // user id, ignored
		return nil, err
	}
	reply := func(code byte) error {
		_, err := c.Write([]byte{0, code, 0, 0, 0, 0, 0, 0})
		return err
	}
	if req[0] != 1 { // only CONNECT
		_ = reply(91)
		return nil, fmt.Errorf("%w: SOCKS4 command %d", errSOCKS, req[0])
	}
	port := int(binary.BigEndian.Uint16(req[1:3]))
	ip := net.IP(req[3:7])
	host := ip.String()
	if ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0 {
		name, err := readCString(c)
		if err != nil {
			return nil, err
		}
		host = name
	}
	conn, err := dial(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		_ = reply(91)
		return nil, err
	}
	if err := reply(90); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}

// socks5 serves RFC 1928: method negotiation (only "no authentication"),
// then VER CMD RSV ATYP DST.ADDR DST.PORT.
func socks5(ctx context.Context, c net.Conn, dial func(context.Context, string, string) (net.Conn, error)) (net.Conn, error) {
	var n [1]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return nil, err
	}
	methods := make([]byte, n[0])
	if _, err := io.ReadFull(c, methods); err != nil {
		return nil, err
	}
	noAuth := false
	for _, m := range methods {
		noAuth = noAuth || m == 0
	}
	if !noAuth {
		_, _ = c.Write([]byte{5, 0xff})
		return nil, fmt.Errorf("%w: SOCKS5 client offers no method without authentication", errSOCKS)
	}
	if _, err := c.Write([]byte{5, 0}); err != nil {
		return nil, err
	}
	var req [4]byte
	if _, err := io.ReadFull(c, req[:]); err != nil {
		return nil, err
	}
	reply := func(code byte) error {
		// BND.ADDR and BND.PORT: the server side's address is not known
		// here, so 0.0.0.0:0, as OpenSSH answers.
		_, err := c.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0})
		return err
	}
	if req[0] != 5 {
		return nil, fmt.Errorf("%w: SOCKS5 request version %d", errSOCKS, req[0])
	}
	var host string
	switch req[3] {
	case 1:
		var a [4]byte
		if _, err := io.ReadFull(c, a[:]); err != nil {
			return nil, err
		}
		host = net.IP(a[:]).String()
	case 4:
		var a [16]byte
		if _, err := io.ReadFull(c, a[:]); err != nil {
			return nil, err
		}
		host = net.IP(a[:]).String()
	case 3:
		var l [1]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return nil, err
		}
		name := make([]byte, l[0])
		if _, err := io.ReadFull(c, name); err != nil {
			return nil, err
		}
		host = string(name)
	default:
		_ = reply(socks5AddrUnsupported)
		return nil, fmt.Errorf("%w: SOCKS5 address type %d", errSOCKS, req[3])
	}
	var p [2]byte
	if _, err := io.ReadFull(c, p[:]); err != nil {
		return nil, err
	}
	if req[1] != 1 { // only CONNECT: BIND and UDP ASSOCIATE make no sense over a channel
		_ = reply(socks5CommandUnsupported)
		return nil, fmt.Errorf("%w: SOCKS5 command %d", errSOCKS, req[1])
	}
	conn, err := dial(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(p[:])))))
	if err != nil {
		_ = reply(socks5Code(err))
		return nil, err
	}
	if err := reply(socks5Succeeded); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}

// socks5Code maps why the server refused the channel to a SOCKS5 reply.
func socks5Code(err error) byte {
	var oce *OpenChannelError
	if errors.As(err, &oce) {
		switch oce.Reason {
		case gossh.Prohibited:
			return socks5NotAllowed
		case gossh.ConnectionFailed:
			return socks5ConnectionRefused
		case gossh.UnknownChannelType, gossh.ResourceShortage:
			return socks5GeneralFailure
		}
		return socks5HostUnreachable
	}
	return socks5GeneralFailure
}

// readCString reads a NUL-terminated string of at most maxSOCKSName bytes.
func readCString(r io.Reader) (string, error) {
	var out []byte
	var b [1]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", err
		}
		if b[0] == 0 {
			return string(out), nil
		}
		if len(out) >= maxSOCKSName {
			return "", fmt.Errorf("%w: name too long", errSOCKS)
		}
		out = append(out, b[0])
	}
}
